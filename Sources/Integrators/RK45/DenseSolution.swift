import DiffusionCore

/// The solution of one RK45 integration at every t of its interval: the step endpoints, the states there, and per step
/// Hairer's DOPRI5 dense-output coefficients (4th-order continuous extension), as a value.
///
/// On the step `[t_i, t_i + h]`, with `theta = (t - t_i)/h`:
/// `y(t) = y_i + theta (c1 + (1 - theta) (c2 + theta (c3 + (1 - theta) c4)))` (Hairer's `contd5`).
public struct DenseSolution: Sendable, Equatable {
  /// The length of the state vector.
  public let dimension: Int
  /// Step endpoints in the order of integration (decreasing when integrating towards smaller t).
  public private(set) var times: [Double]
  /// The states at `times`, flat: `states[i * dimension ..< (i + 1) * dimension]` is y(times[i]).
  public private(set) var states: [Double]
  /// Per step, the four coefficient vectors c1...c4, flat: step i holds `4 * dimension` numbers.
  public private(set) var coefficients: [Double]

  init(dimension: Int, t0: Double, y0: [Double]) {
    self.dimension = dimension
    self.times = [t0]
    self.states = y0
    self.coefficients = []
  }

  /// The integration's start and end times.
  public var start: Double { times[0] }
  public var end: Double { times[times.count - 1] }
  public var stepCount: Int { times.count - 1 }

  /// y at the i-th step endpoint.
  public func state(atStep i: Int) -> [Double] { Array(states[i * dimension..<(i + 1) * dimension]) }

  /// Records one accepted step ending at `t` with state `y` and coefficients `c1...c4`.
  mutating func appendStep(t: Double, y: [Double], c1: [Double], c2: [Double], c3: [Double], c4: [Double]) {
    times.append(t)
    states.append(contentsOf: y)
    coefficients.append(contentsOf: c1)
    coefficients.append(contentsOf: c2)
    coefficients.append(contentsOf: c3)
    coefficients.append(contentsOf: c4)
  }

  /// Appends a solution that starts where this one ends and runs in the same direction (e.g. the next interval of a
  /// piecewise integration).
  public mutating func append(_ next: DenseSolution) throws {
    guard next.dimension == dimension else {
      throw InvalidInput("dense solution", "dimension \(next.dimension) differs from \(dimension)")
    }
    guard next.start == end else {
      throw InvalidInput("dense solution", "the appended solution starts at \(next.start), not at \(end)")
    }
    if stepCount > 0, next.stepCount > 0, (end - start) * (next.end - next.start) < 0 {
      throw InvalidInput("dense solution", "the appended solution runs in the opposite direction")
    }
    times.append(contentsOf: next.times.dropFirst())
    states.append(contentsOf: next.states.dropFirst(dimension))
    coefficients.append(contentsOf: next.coefficients)
  }

  /// y(t) for t in the solved interval (a relative slack of 1e-12 of the interval is allowed at the ends).
  public func evaluate(_ t: Double) throws -> [Double] {
    var y = [Double](repeating: 0, count: dimension)
    try evaluate(t, into: &y)
    return y
  }

  /// y(t) written into `y` (resized to `dimension` if needed).
  public func evaluate(_ t: Double, into y: inout [Double]) throws {
    if y.count != dimension { y = [Double](repeating: 0, count: dimension) }
    let i = try segment(holding: t)
    let n = dimension
    if i < 0 {  // a single point
      for j in 0..<n { y[j] = states[j] }
      return
    }
    let h = times[i + 1] - times[i]
    let theta = (t - times[i]) / h, theta1 = 1 - theta
    states.withUnsafeBufferPointer { s in
      coefficients.withUnsafeBufferPointer { c in
        let y0 = i * n, c0 = 4 * i * n
        for j in 0..<n {
          let c1 = c[c0 + j], c2 = c[c0 + n + j], c3 = c[c0 + 2 * n + j], c4 = c[c0 + 3 * n + j]
          y[j] = s[y0 + j] + theta * (c1 + theta1 * (c2 + theta * (c3 + theta1 * c4)))
        }
      }
    }
  }

  /// The index i of the step `[times[i], times[i+1]]` holding t (-1 for a solution with no steps).
  func segment(holding t: Double) throws -> Int {
    let lo = Swift.min(start, end), hi = Swift.max(start, end)
    let slack = 1e-12 * Swift.max(hi - lo, Swift.max(abs(lo), abs(hi)))
    guard t.isFinite, t >= lo - slack, t <= hi + slack else {
      throw InvalidInput("t", "\(t) lies outside the solved interval [\(lo), \(hi)]")
    }
    let steps = stepCount
    if steps == 0 { return -1 }
    let increasing = end > start
    // Binary search for the last i with times[i] on the near side of t.
    var a = 0, b = steps - 1
    while a < b {
      let mid = (a + b + 1) / 2
      if increasing ? times[mid] <= t : times[mid] >= t { a = mid } else { b = mid - 1 }
    }
    return a
  }
}

import DiffusionCore

/// The carried state of a reversible sampler: `stateWidth` vectors of d numbers (e.g. Rex's (x, xh)).
public struct ReversibleState: Sendable, Equatable {
  public var parts: [[Double]]
  public init(parts: [[Double]]) { self.parts = parts }

  /// Every part finite.
  public var isFinite: Bool { parts.allSatisfy { $0.allSatisfy(\.isFinite) } }

  /// Throws `InvalidInput(field, ...)` unless there are `width` parts of d finite numbers each.
  public func validate(width: Int, dimension d: Int, field: String = "state") throws {
    guard parts.count == width else { throw InvalidInput(field, "expected \(width) vectors, got \(parts.count)") }
    for (k, part) in parts.enumerated() {
      try Check.count(part, d, "\(field)[\(k)]")
      try Check.finite(part, "\(field)[\(k)]")
    }
  }
}

/// A sampler whose step has an exact algebraic inverse (docs/reversible-solvers.md#reversible-samplers), so the
/// gradient of its output can walk the states backwards instead of storing them (`ReversibleGradient`).
///
/// Step n (n = 0..<N) runs from grid index N - n down to N - n - 1 with the conditioning `z.z(step: n)`.
public protocol ReversibleSampler: Sendable {
  /// e.g. "rex-rk4[data, zeta=0.999]".
  var label: String { get }
  /// How many d-vectors the carried state has.
  var stateWidth: Int { get }
  /// The option whose value decides whether the inverse is stable ("coupling", "gamma", "mix", ...): named by the
  /// refusal when the reverse reconstruction drifts.
  var stabilityOption: String { get }

  /// The initial state from x_T (every component derived from x_T).
  func start<M: NoisePredictor>(xT: [Double], grid: TimeGrid, schedule: NoiseSchedule, model: M, z: Conditioning,
                                count: inout EvaluationCount) throws -> ReversibleState
  /// x_0 from the final state.
  func output(_ s: ReversibleState) -> [Double]
  /// The cotangent on the final state from dL/dx_0.
  func outputCotangent(_ gx0: [Double]) -> ReversibleState

  /// Step n.
  func step<M: NoisePredictor>(_ s: ReversibleState, n: Int, grid: TimeGrid, schedule: NoiseSchedule, model: M,
                               z: Conditioning, count: inout EvaluationCount) throws -> ReversibleState
  /// The exact algebraic inverse of `step`: the state before step n from the state after it.
  func inverse<M: NoisePredictor>(_ s: ReversibleState, n: Int, grid: TimeGrid, schedule: NoiseSchedule, model: M,
                                  z: Conditioning, count: inout EvaluationCount) throws -> ReversibleState
  /// Pulls the cotangent of step n's output back to its input `s` (the state before step n); adds into gz (the z
  /// bucket of step n) and gtheta (left empty unless `wantParameters`).
  func stepVJP<M: NoisePredictor>(_ s: ReversibleState, n: Int, grid: TimeGrid, schedule: NoiseSchedule, model: M,
                                  z: Conditioning, cotangent: ReversibleState, wantParameters: Bool, gz: inout [Double],
                                  gtheta: inout [Double], count: inout EvaluationCount) throws -> ReversibleState
  /// `inverse` and `stepVJP` in one pass from the state after step n: the network evaluations of the inverse are the
  /// VJPs' own forwards, so a reversed step costs about the VJPs alone. The default runs `inverse` then `stepVJP`.
  func inverseVJP<M: NoisePredictor>(_ s: ReversibleState, n: Int, grid: TimeGrid, schedule: NoiseSchedule, model: M,
                                     z: Conditioning, cotangent: ReversibleState, wantParameters: Bool, gz: inout [Double],
                                     gtheta: inout [Double], count: inout EvaluationCount) throws -> (state: ReversibleState, cotangent: ReversibleState)
  /// dL/dx_T from the cotangent of the initial state (and, if `start` evaluated the network, its VJP; gz is step 0's bucket).
  func startCotangent<M: NoisePredictor>(_ cotangent: ReversibleState, xT: [Double], grid: TimeGrid, schedule: NoiseSchedule,
                                         model: M, z: Conditioning, wantParameters: Bool, gz: inout [Double],
                                         gtheta: inout [Double], count: inout EvaluationCount) throws -> [Double]
}

extension ReversibleSampler {
  public func inverseVJP<M: NoisePredictor>(
    _ s: ReversibleState, n: Int, grid: TimeGrid, schedule: NoiseSchedule, model: M, z: Conditioning,
    cotangent: ReversibleState, wantParameters: Bool, gz: inout [Double], gtheta: inout [Double], count: inout EvaluationCount
  ) throws -> (state: ReversibleState, cotangent: ReversibleState) {
    let previous = try inverse(s, n: n, grid: grid, schedule: schedule, model: model, z: z, count: &count)
    let g = try stepVJP(previous, n: n, grid: grid, schedule: schedule, model: model, z: z, cotangent: cotangent,
                        wantParameters: wantParameters, gz: &gz, gtheta: &gtheta, count: &count)
    return (previous, g)
  }

  /// Samples from x_T (N steps, O(1) memory): the final state, whose `output` is x_0.
  public func sample<M: NoisePredictor>(xT: [Double], grid: TimeGrid, schedule: NoiseSchedule, model: M, z: Conditioning,
                                        count: inout EvaluationCount) throws -> ReversibleState {
    try Check.count(xT, model.dataDimension, "x_T")
    try Check.finite(xT, "x_T")
    try z.validate(dimension: model.conditionDimension, steps: grid.steps)
    var s = try start(xT: xT, grid: grid, schedule: schedule, model: model, z: z, count: &count)
    for n in 0..<grid.steps { s = try step(s, n: n, grid: grid, schedule: schedule, model: model, z: z, count: &count) }
    return s
  }

  /// The state at T from the final state, by inverting all N steps (the start state's parts are then all x_T up to
  /// the round-trip error; reversible Heun's third part is k(x_T)).
  public func invert<M: NoisePredictor>(_ final: ReversibleState, grid: TimeGrid, schedule: NoiseSchedule, model: M,
                                        z: Conditioning, count: inout EvaluationCount) throws -> ReversibleState {
    try final.validate(width: stateWidth, dimension: model.dataDimension)
    try z.validate(dimension: model.conditionDimension, steps: grid.steps)
    var s = final
    for n in stride(from: grid.steps - 1, through: 0, by: -1) {
      s = try inverse(s, n: n, grid: grid, schedule: schedule, model: model, z: z, count: &count)
    }
    return s
  }
}

/// Vector helpers of the reversible samplers: `a x + b y` and friends, element by element.
enum Lin {
  static func combine(_ a: Double, _ x: [Double], _ b: Double, _ y: [Double]) -> [Double] {
    (0..<x.count).map { a * x[$0] + b * y[$0] }
  }
  static func combine(_ a: Double, _ x: [Double], _ b: Double, _ y: [Double], _ c: Double, _ w: [Double]) -> [Double] {
    (0..<x.count).map { a * x[$0] + b * y[$0] + c * w[$0] }
  }
  static func add(_ x: [Double], _ y: [Double]) -> [Double] { (0..<x.count).map { x[$0] + y[$0] } }
  static func zeros(_ d: Int) -> [Double] { [Double](repeating: 0, count: d) }
}

import DiffusionCore
import Foundation

extension SchedulerConfig {
  /// The timesteps diffusers' `scheduler.set_timesteps(N)` produces for this config, first (noisiest) first
  /// (docs/diffusers-loop.md#timesteps), with numpy's own arithmetic (`NumPyGrid`), so that every spacing, offset and
  /// step count gives the same integers:
  /// - DDIM, DDPM: `linspace`: round(linspace(0, T - 1, N)) reversed; `leading`: (T // N) k + steps_offset, k = N-1..0;
  ///   `trailing`: round(arange(T, 0, -T/N)) - 1;
  /// - DPMSolverMultistep: the same over N + 1 points with the last (0) dropped, up to `last = T - clipped` where
  ///   `clipped` counts the training steps whose lambda is below `lambda_min_clipped`; `leading` uses last // (N + 1),
  ///   `trailing` steps T/N down from `last`.
  /// Throws (naming `option`) when diffusers would refuse or misbehave: N > T, a timestep outside 0..<T, repeats.
  public func timesteps(steps n: Int, option: String = "sampler-steps") throws -> [Int] {
    let t = trainSteps
    guard n >= 1 else { throw InvalidInput(option, "must be at least 1, got \(n)") }
    guard n <= t else { throw InvalidInput(option, "\(n) is more than num_train_timesteps = \(t) (diffusers' set_timesteps refuses it)") }
    var result: [Int]
    if className == "DPMSolverMultistepScheduler" {
      let last = t - clippedTrainingSteps()
      switch timestepSpacing {
      case .linspace:
        result = Array(NumPyGrid.linspace(0, Double(last - 1), count: n + 1).map { Int($0.rounded(.toNearestOrEven)) }.reversed().dropLast())
      case .leading:
        let ratio = last / (n + 1)
        result = (1...n).reversed().map { $0 * ratio + stepsOffset }
      case .trailing:
        result = NumPyGrid.arange(Double(last), 0, -Double(t) / Double(n)).map { Int($0.rounded(.toNearestOrEven)) - 1 }
      }
    } else {
      switch timestepSpacing {
      case .linspace:
        result = NumPyGrid.linspace(0, Double(t - 1), count: n).map { Int($0.rounded(.toNearestOrEven)) }.reversed()
      case .leading:
        let ratio = t / n
        result = (0..<n).reversed().map { $0 * ratio + stepsOffset }
      case .trailing:
        result = NumPyGrid.arange(Double(t), 0, -Double(t) / Double(n)).map { Int($0.rounded(.toNearestOrEven)) - 1 }
      }
    }
    guard !result.isEmpty else { throw InvalidInput(option, "set_timesteps(\(n)) gives no timesteps for this scheduler config") }
    if let bad = result.first(where: { !(0..<t).contains($0) }) {
      throw InvalidInput(option, "set_timesteps(\(n)) gives timestep \(bad), outside 0..<\(t) (timestep_spacing \(timestepSpacing.rawValue), steps_offset \(stepsOffset))")
    }
    for i in 1..<result.count where result[i] >= result[i - 1] {
      throw InvalidInput(option, "set_timesteps(\(n)) repeats timestep \(result[i]) (timestep_spacing \(timestepSpacing.rawValue)): diffusers' step indexing is ambiguous there; use fewer steps")
    }
    return result
  }

  /// DPMSolverMultistep's `clipped_idx`: how many training steps have lambda_t = log alpha_t - log sigma_t below
  /// `lambda_min_clipped` (torch.searchsorted on the flipped, increasing lambdas; alpha, sigma in float32).
  func clippedTrainingSteps() -> Int {
    guard lambdaMinClipped > -Double.infinity else { return 0 }
    return alphasCumprod().filter { a in
      let alpha = Float(a).squareRoot(), sigma = (1 - Float(a)).squareRoot()
      return log(Double(alpha)) - log(Double(sigma)) < lambdaMinClipped
    }.count
  }
}

/// numpy's `linspace` and `arange` for float arguments, operation for operation, so that rounding them gives the
/// integers numpy gives.
enum NumPyGrid {
  /// `np.linspace(start, stop, num)`: `i * step + start` with `step = (stop - start) / (num - 1)`, the last entry `stop`.
  static func linspace(_ start: Double, _ stop: Double, count n: Int) -> [Double] {
    guard n > 1 else { return n == 1 ? [start] : [] }
    let step = (stop - start) / Double(n - 1)
    var y = (0..<n).map { Double($0) * step + start }
    y[n - 1] = stop
    return y
  }

  /// `np.arange(start, stop, step)`: `ceil((stop - start) / step)` entries `start`, `start + step`, then
  /// `start + i * delta` with `delta = (start + step) - start` (numpy's fill).
  static func arange(_ start: Double, _ stop: Double, _ step: Double) -> [Double] {
    let length = Int(max(0, ((stop - start) / step).rounded(.up)))
    guard length > 0 else { return [] }
    var y = [start]
    if length > 1 { y.append(start + step) }
    let delta = (start + step) - start
    for i in stride(from: 2, to: length, by: 1) { y.append(start + Double(i) * delta) }
    return y
  }
}

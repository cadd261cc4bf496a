import Reports
import DiffusionCore
import Foundation

/// The stated rule that picks the asymptotic range of a convergence series before the order is fitted.
///
/// Points are ordered coarse → fine (h_max decreasing). In order:
/// 1. drop points with a non-finite or non-positive h_max or error (`invalid`);
/// 2. drop points with error < `floor` (`belowFloor`);
/// 3. from the fine end, drop the finest point while its local slope against the next coarser kept point is below
///    `stagnationSlope`, i.e. the error fell by less than 2^stagnationSlope per halving of h (`stagnated`);
/// 4. among the remaining points take the longest contiguous tail (ending at the finest point, at least
///    `minimumPoints` long) in which every local slope between neighbours lies within `slopeTolerance` of that tail's
///    least-squares slope; the coarser points before it are `preAsymptotic`. If no tail qualifies, all remaining
///    points are fitted and the fit is flagged (`OrderFit.tailRuleMet == false`).
/// The slope's confidence interval uses the Student-t quantile for n − 2 degrees of freedom, computed exactly from
/// the regularized incomplete beta function (`StudentT`).
public struct AsymptoticRule: Sendable, Equatable {
  /// Errors below this are round-off, not discretization error. Default 1e-11 (relative error).
  public var floor: Double
  /// Minimum local slope at the fine end; default log2(1.3) ≈ 0.379 (error must fall ≥ 1.3× per halving of h).
  public var stagnationSlope: Double
  /// Largest |local slope − fitted slope| inside the asymptotic tail. Default 0.25.
  public var slopeTolerance: Double
  /// Fewest points in a fit. At least 3 (one residual degree of freedom for the interval). Default 3.
  public var minimumPoints: Int
  /// Level of the slope's confidence interval. Default 0.95.
  public var confidence: Double

  public init(
    floor: Double = 1e-11, stagnationSlope: Double = log2(1.3), slopeTolerance: Double = 0.25,
    minimumPoints: Int = 3, confidence: Double = 0.95
  ) {
    self.floor = floor
    self.stagnationSlope = stagnationSlope
    self.slopeTolerance = slopeTolerance
    self.minimumPoints = minimumPoints
    self.confidence = confidence
  }

  public func validate() throws {
    guard floor >= 0, floor.isFinite else { throw InvalidInput("floor", "must be a finite number ≥ 0, got \(floor)") }
    guard stagnationSlope.isFinite else { throw InvalidInput("stagnationSlope", "must be finite, got \(stagnationSlope)") }
    guard slopeTolerance > 0, slopeTolerance.isFinite else {
      throw InvalidInput("slopeTolerance", "must be a finite positive number, got \(slopeTolerance)")
    }
    guard minimumPoints >= 3 else { throw InvalidInput("minimumPoints", "must be at least 3, got \(minimumPoints)") }
    guard confidence > 0, confidence < 1 else {
      throw InvalidInput("confidence", "must lie strictly between 0 and 1, got \(confidence)")
    }
  }

  /// The rule in one paragraph, with its parameters, for reports.
  public var text: String {
    let ratio = pow(2, stagnationSlope)
    return "Points ordered coarse to fine. Dropped: failed or non-positive errors; errors below the floor "
      + "\(ReportFormat.short(floor)); at the fine end, points whose error fell by less than a factor "
      + "\(ReportFormat.short(ratio, digits: 3)) per halving of h_max (local slope < \(ReportFormat.short(stagnationSlope, digits: 3))). "
      + "Fitted: the longest tail of at least \(minimumPoints) remaining points whose local slopes all lie within "
      + "\(ReportFormat.short(slopeTolerance)) of the tail's least-squares slope of log(error) on log(h_max); earlier points are pre-asymptotic "
      + "(if no tail qualifies, all remaining points are fitted and the fit is flagged). "
      + "\(ReportFormat.short(confidence * 100))% CI: slope ± t(n−2)·se, t from the exact Student-t quantile."
  }
}

import Foundation
import Integrators

/// The three gradients a study compares: a_x(T) = dL/dx_T, a_z = dL/dz (all rows), a_theta = dL/dtheta.
public enum GradientQuantity: String, CaseIterable, Sendable {
  case x = "a_x"
  case z = "a_z"
  case theta = "a_theta"

  public func values(_ r: GradientResult) -> [Double] {
    switch self {
    case .x: return r.gradXT
    case .z: return r.gradZ.flatMap { $0 }
    case .theta: return r.gradTheta
    }
  }
}

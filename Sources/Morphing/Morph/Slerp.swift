import Foundation

/// Spherical linear interpolation of two noise vectors (DiM's blend of x_T^a and x_T^b):
/// `slerp(a, b; w) = sin((1 - w) theta) / sin(theta) a + sin(w theta) / sin(theta) b`, `cos theta = a.b / (|a||b|)`;
/// linear interpolation when a and b are (anti)parallel to round-off.
public func slerp(_ a: ArraySlice<Double>, _ b: ArraySlice<Double>, _ w: Double) -> [Double] {
  var ab = 0.0, aa = 0.0, bb = 0.0
  for (x, y) in zip(a, b) { ab += x * y; aa += x * x; bb += y * y }
  let c = max(-1, min(1, ab / max((aa * bb).squareRoot(), .leastNormalMagnitude)))
  let theta = acos(c)
  let s = sin(theta)
  guard s > 1e-12 else { return zip(a, b).map { (1 - w) * $0 + w * $1 } }
  let ca = sin((1 - w) * theta) / s, cb = sin(w * theta) / s
  return zip(a, b).map { ca * $0 + cb * $1 }
}

/// Linear interpolation `(1 - w) a + w b` (DiM's blend of z^a and z^b).
public func lerp(_ a: ArraySlice<Double>, _ b: ArraySlice<Double>, _ w: Double) -> [Double] {
  zip(a, b).map { (1 - w) * $0 + w * $1 }
}

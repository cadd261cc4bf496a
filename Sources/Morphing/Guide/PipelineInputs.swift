import DiffusionCore
import Foundation
import NeuralCore

/// The tensors a pipeline gradient or guided run reads: x_T, z, the loss's target (or w) and mask, from safetensors
/// files (one named tensor each) or PNG images at the model's size. Every error names the file.
public enum PipelineInputs {
  /// x_T from a safetensors file holding a tensor `x_T` of shape (B, C, H, W) = (B, shape...).
  public static func readXT(_ url: URL, shape: [Int]) throws -> (batch: Int, values: [Double]) {
    let t = try tensor(url, named: "x_T")
    guard t.shape.count == 4, Array(t.shape[1...]) == shape, t.shape[0] >= 1 else {
      throw InvalidInput(url.path, "x_T has shape \(t.shape), the model needs (B, \(shape.map(String.init).joined(separator: ", ")))")
    }
    let values = t.doubles()
    try finite(values, url, "x_T")
    return (t.shape[0], values)
  }

  /// B standard-normal x_T of shape (C, H, W) from `seed`.
  public static func seededXT(seed: UInt64, batch: Int, shape: [Int]) throws -> [Double] {
    try Check.positive(batch, "batch")
    var rng = SeededGenerator(seed: seed)
    return rng.normals(batch * shape.reduce(1, *))
  }

  /// z (B, m) or (m) (the same z for every image), from a tensor `z`.
  public static func readZ(_ url: URL, batch: Int, m: Int) throws -> [Double] {
    let t = try tensor(url, named: "z")
    let values = t.doubles()
    try finite(values, url, "z")
    if t.shape == [m] { return (0..<batch).flatMap { _ in values } }
    guard t.shape == [batch, m] else { throw InvalidInput(url.path, "z has shape \(t.shape), expected (\(batch), \(m)) or (\(m))") }
    return values
  }

  /// The target (or w) for B images of shape (C, H, W): a PNG at the model's size (the same image for every x_T),
  /// or a safetensors tensor `target` of shape (C, H, W) or (B, C, H, W).
  public static func readTarget(_ url: URL, batch: Int, shape: [Int]) throws -> [Double] {
    if try isPNG(url) {
      let image = try ModelImage.read(url, channels: shape[0], height: shape[1], width: shape[2])
      return (0..<batch).flatMap { _ in image }
    }
    let t = try tensor(url, named: "target")
    let values = t.doubles()
    try finite(values, url, "target")
    if t.shape == shape { return (0..<batch).flatMap { _ in values } }
    guard t.shape == [batch] + shape else {
      throw InvalidInput(url.path, "target has shape \(t.shape), expected \(shape) or \([batch] + shape)")
    }
    return values
  }

  /// The mask, broadcast to (B, C, H, W): a PNG (gray or the model's channels; m = byte / 255), or a safetensors
  /// tensor `mask` of shape (H, W), (1, H, W), (C, H, W) or (B, C, H, W); values must be >= 0.
  public static func readMask(_ url: URL, batch: Int, shape: [Int]) throws -> [Double] {
    let (c, h, w) = (shape[0], shape[1], shape[2])
    let plane = h * w
    var values: [Double], channels: Int
    if try isPNG(url) {
      let png = try PNGPixels.read(url, width: w, height: h)
      guard png.height == h, png.width == w else {
        throw InvalidInput(url.path, "is \(png.width) x \(png.height) pixels, the model's images are \(w) x \(h)")
      }
      guard png.channels == 1 || png.channels == c else {
        throw InvalidInput(url.path, "has \(png.channels) channels: a mask is gray or has the model's \(c)")
      }
      channels = png.channels
      values = [Double](repeating: 0, count: channels * plane)
      for k in 0..<channels { for i in 0..<plane { values[k * plane + i] = Double(png.bytes[i * channels + k]) / 255 } }
    } else {
      let t = try tensor(url, named: "mask")
      values = t.doubles()
      try finite(values, url, "mask")
      switch t.shape {
      case [h, w], [1, h, w]: channels = 1
      case [c, h, w]: channels = c
      case [batch, c, h, w]: return try nonNegative(values, url)
      default: throw InvalidInput(url.path, "mask has shape \(t.shape), expected (\(h), \(w)), (1, \(h), \(w)), \(shape) or \([batch] + shape)")
      }
    }
    var one = [Double](repeating: 0, count: c * plane)
    for k in 0..<c { for i in 0..<plane { one[k * plane + i] = values[(channels == 1 ? 0 : k) * plane + i] } }
    return try nonNegative((0..<batch).flatMap { _ in one }, url)
  }

  // MARK: - helpers

  /// Whether the file starts with the PNG signature, read through the input-file gate (a missing file, a FIFO, device
  /// or directory is refused there, instead of blocking here).
  static func isPNG(_ url: URL) throws -> Bool {
    [UInt8](try InputFile.prefix(url, count: 8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
  }

  static func tensor(_ url: URL, named name: String) throws -> SafeTensor {
    let file = try SafeTensorsFile.read(url)
    guard let t = file[name] else {
      throw InvalidInput(url.path, "has no tensor named '\(name)' (it holds: \(file.names.joined(separator: ", ")))")
    }
    return t
  }

  static func finite(_ values: [Double], _ url: URL, _ name: String) throws {
    if let i = values.firstIndex(where: { !$0.isFinite }) { throw InvalidInput(url.path, "\(name) entry \(i) is not finite") }
  }

  static func nonNegative(_ values: [Double], _ url: URL) throws -> [Double] {
    if let i = values.firstIndex(where: { $0 < 0 }) { throw InvalidInput(url.path, "mask entry \(i) is negative") }
    return values
  }
}

import DiffusionCore
import Foundation

/// Images as a diffusers pipeline sees them: (C, H, W) values in [-1, 1], `x = 2 (byte / 255) - 1`, and back
/// `byte = round(255 clamp((x + 1) / 2, 0, 1))` (as `image / 2 + 0.5`, clamp, `* 255`, round in the pipelines).
public enum ModelImage {
  /// The (C, H, W) model values of a PNG's pixels.
  public static func values(_ png: PNGPixels) -> [Double] {
    let (c, h, w) = (png.channels, png.height, png.width)
    var out = [Double](repeating: 0, count: c * h * w)
    for k in 0..<c {
      for i in 0..<(h * w) { out[k * h * w + i] = 2 * Double(png.bytes[i * c + k]) / 255 - 1 }
    }
    return out
  }

  /// The PNG pixels of (C, H, W) model values (C = 1 or 3; non-finite values become 0, mid-gray).
  public static func pixels(_ values: ArraySlice<Double>, channels c: Int, height h: Int, width w: Int) throws -> PNGPixels {
    guard values.count == c * h * w else { throw InvalidInput("image", "expected \(c * h * w) values, got \(values.count)") }
    var bytes = [UInt8](repeating: 0, count: c * h * w)
    let base = values.startIndex
    for k in 0..<c {
      for i in 0..<(h * w) {
        let v = values[base + k * h * w + i]
        let unit = v.isFinite ? min(max((v + 1) / 2, 0), 1) : 0.5
        bytes[i * c + k] = UInt8((unit * 255).rounded())
      }
    }
    return try PNGPixels(channels: c, height: h, width: w, bytes: bytes)
  }

  /// Reads a PNG that must have exactly the model's channel count and size; returns its (C, H, W) values.
  public static func read(_ url: URL, channels: Int, height: Int, width: Int) throws -> [Double] {
    let png = try PNGPixels.read(url, width: width, height: height)
    guard png.channels == channels else {
      let kind = { (c: Int) in c == 1 ? "gray" : "RGB" }
      throw InvalidInput(url.path, "is a \(kind(png.channels)) image (\(png.channels) channel\(png.channels == 1 ? "" : "s")), the model takes \(channels) (\(kind(channels)))")
    }
    guard png.height == height, png.width == width else {
      throw InvalidInput(url.path, "is \(png.width) x \(png.height) pixels, the model's images are \(width) x \(height)")
    }
    return values(png)
  }
}

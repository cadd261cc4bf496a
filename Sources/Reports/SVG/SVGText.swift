import Foundation

/// Text with superscripts (10⁻³, O(h²)) for SVG, and the width estimates the layout uses to keep text apart.
public struct RichText: Sendable, Equatable {
  public struct Run: Sendable, Equatable {
    public var text: String
    public var superscript: Bool
  }

  public var runs: [Run]

  public init(_ text: String) { runs = [Run(text: text, superscript: false)] }
  public init(runs: [Run]) { self.runs = runs }

  /// "10" with superscript exponent k, the minus written as U+2212.
  public static func powerOfTen(_ exponent: Int) -> RichText {
    RichText(runs: [Run(text: "10", superscript: false), Run(text: SVGText.number(exponent), superscript: true)])
  }

  /// "O(h^p)"; "O(h)" for p = 1.
  public static func order(_ p: Double, symbol: String = "h") -> RichText {
    if p == 1 { return RichText("O(\(symbol))") }
    let exponent = p == p.rounded() ? SVGText.number(Int(p)) : ReportFormat.short(p).replacingOccurrences(of: "-", with: "\u{2212}")
    return RichText(runs: [
      Run(text: "O(\(symbol)", superscript: false), Run(text: exponent, superscript: true), Run(text: ")", superscript: false),
    ])
  }

  public var plain: String { runs.map(\.text).joined() }

  /// Estimated advance width in px at `fontSize` (superscripts at 75 %).
  public func width(fontSize: Double) -> Double {
    runs.reduce(0) { $0 + SVGText.width($1.text, fontSize: $1.superscript ? fontSize * SVGText.superscriptScale : fontSize) }
  }

  /// The content of a <text> element: escaped runs, superscripts as <tspan> shifted up with dy and shrunk.
  func svgContent(fontSize: Double) -> String {
    var out = ""
    var raised = false
    let rise = 0.42 * fontSize
    for run in runs {
      if run.superscript && !raised {
        out += "<tspan dy=\"\(SVGText.n(-rise))\" font-size=\"\(SVGText.n(fontSize * SVGText.superscriptScale))\">\(SVGText.escape(run.text))</tspan>"
        raised = true
      } else if run.superscript {
        out += "<tspan font-size=\"\(SVGText.n(fontSize * SVGText.superscriptScale))\">\(SVGText.escape(run.text))</tspan>"
      } else if raised {
        out += "<tspan dy=\"\(SVGText.n(rise))\" font-size=\"\(SVGText.n(fontSize))\">\(SVGText.escape(run.text))</tspan>"
        raised = false
      } else {
        out += SVGText.escape(run.text)
      }
    }
    return out
  }
}

enum SVGText {
  static let superscriptScale = 0.75
  static let fontFamily = "DejaVu Sans, Helvetica, Arial, sans-serif"

  /// Coordinates with two decimals.
  static func n(_ value: Double) -> String {
    let text = String(format: "%.2f", value)
    return text == "-0.00" ? "0.00" : text
  }

  /// An integer with a typographic minus.
  static func number(_ value: Int) -> String {
    value < 0 ? "\u{2212}\(-value)" : "\(value)"
  }

  /// XML escape for text and attribute values.
  static func escape(_ text: String) -> String {
    var out = ""
    for c in text {
      switch c {
      case "&": out += "&amp;"
      case "<": out += "&lt;"
      case ">": out += "&gt;"
      case "\"": out += "&quot;"
      case "'": out += "&apos;"
      default:
        // Drop control characters XML 1.0 forbids.
        if let ascii = c.asciiValue, ascii < 0x20, c != "\t", c != "\n" { continue }
        out.append(c)
      }
    }
    return out
  }

  /// Advance width in px of `text` in DejaVu Sans at `fontSize`, from the font's advance widths (units of 1/2048 em);
  /// slightly generous for glyphs not in the table.
  static func width(_ text: String, fontSize: Double) -> Double {
    var units = 0.0
    for c in text {
      units += advance[c] ?? (c.isUppercase ? 1480 : (c.isNumber ? 1303 : 1350))
    }
    return units / 2048 * fontSize
  }

  private static let advance: [Character: Double] = {
    var table: [Character: Double] = [
      " ": 651, ".": 651, ",": 651, ":": 690, ";": 690, "-": 739, "\u{2212}": 1716, "+": 1716, "=": 1716, "±": 1716,
      "(": 799, ")": 799, "[": 799, "]": 799, "/": 690, "\\": 690, "|": 690, "_": 1024, "'": 563, "\"": 940, "!": 821,
      "%": 1946, "^": 1716, "*": 1024, "<": 1716, ">": 1716, "×": 1716, "λ": 1233, "θ": 1253, "²": 821, "·": 651,
      "a": 1255, "b": 1300, "c": 1126, "d": 1300, "e": 1260, "f": 721, "g": 1300, "h": 1298, "i": 569, "j": 569,
      "k": 1186, "l": 569, "m": 1995, "n": 1298, "o": 1253, "p": 1300, "q": 1300, "r": 842, "s": 1067, "t": 803,
      "u": 1298, "v": 1212, "w": 1675, "x": 1212, "y": 1212, "z": 1075,
      "A": 1401, "B": 1405, "C": 1430, "D": 1577, "E": 1294, "F": 1178, "G": 1587, "H": 1540, "I": 604, "J": 604,
      "K": 1343, "L": 1141, "M": 1767, "N": 1532, "O": 1612, "P": 1235, "Q": 1612, "R": 1423, "S": 1300, "T": 1251,
      "U": 1499, "V": 1401, "W": 2025, "X": 1403, "Y": 1251, "Z": 1405,
    ]
    for digit in "0123456789" { table[digit] = 1303 }
    return table
  }()
}

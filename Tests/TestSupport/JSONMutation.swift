import DiffusionCore

/// Test-side JSON text and seeded structural mutations of a parsed document (for the property tests).
public enum JSONMutation {
  public static func render(_ v: JSONValue) -> String {
    switch v {
    case .null: return "null"
    case let .bool(b): return "\(b)"
    case let .number(_, literal): return literal
    case let .string(s): return jsonStringLiteral(s)
    case let .array(a): return "[" + a.map(render).joined(separator: ",") + "]"
    case let .object(o): return "{" + o.keys.sorted().map { jsonStringLiteral($0) + ":" + render(o[$0]!) }.joined(separator: ",") + "}"
    }
  }

  public static let replacements: [JSONValue] = [
    .number(1e308, literal: "1e308"), .number(-1e308, literal: "-1e308"), .number(1e154, literal: "1e154"),
    .number(700, literal: "700"), .number(-700, literal: "-700"), .number(0, literal: "0"), .number(5e-324, literal: "5e-324"),
    .number(-1, literal: "-1"), .number(2, literal: "2"), .number(1e-12, literal: "1e-12"), .string("x"), .string(""),
    .bool(true), .null, .array([]), .object([:]), .array([.number(1, literal: "1")]),
  ]

  /// One mutation at a random node: replace it, drop it (object key or list entry), duplicate a list entry,
  /// or add an unknown key.
  public static func mutate(_ v: JSONValue, _ rng: inout SeededGenerator, depth: Int = 0) -> JSONValue {
    let stop = rng.next() % 4 == 0 || depth > 6
    switch v {
    case var .object(o) where !o.isEmpty:
      let keys = o.keys.sorted()
      let key = keys[Int(rng.next() % UInt64(keys.count))]
      if stop {
        switch rng.next() % 3 {
        case 0: o[key] = nil
        case 1: o["unknown_\(rng.next() % 5)"] = .number(1, literal: "1")
        default: o[key] = replacements[Int(rng.next() % UInt64(replacements.count))]
        }
      } else {
        o[key] = mutate(o[key]!, &rng, depth: depth + 1)
      }
      return .object(o)
    case var .array(a) where !a.isEmpty:
      let i = Int(rng.next() % UInt64(a.count))
      if stop {
        switch rng.next() % 3 {
        case 0: a.remove(at: i)
        case 1: a.insert(a[i], at: i)
        default: a[i] = replacements[Int(rng.next() % UInt64(replacements.count))]
        }
      } else {
        a[i] = mutate(a[i], &rng, depth: depth + 1)
      }
      return .array(a)
    default:
      return replacements[Int(rng.next() % UInt64(replacements.count))]
    }
  }
}

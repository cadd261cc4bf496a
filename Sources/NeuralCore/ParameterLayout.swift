import DiffusionCore

/// Where one named parameter tensor lives in the model's flat parameter vector.
public struct ParameterSlot: Sendable, Equatable {
  public let offset: Int
  public let count: Int
  public init(offset: Int, count: Int) {
    self.offset = offset
    self.count = count
  }
}

/// The ordered list of named parameter tensors (diffusers names, registration order) and their offsets
/// in one flat vector; layers are built against it and keep only their slots.
public struct ParameterLayout: Sendable {
  public private(set) var blocks: [ParameterBlock] = []
  public private(set) var offsets: [Int] = []
  public private(set) var total = 0
  public private(set) var index: [String: Int] = [:]

  public init() {}

  mutating func add(_ name: String, _ shape: [Int]) -> ParameterSlot {
    precondition(index[name] == nil, "duplicate parameter \(name)")  // invariant
    let block = ParameterBlock(name: name, shape: shape)
    index[name] = blocks.count
    blocks.append(block)
    offsets.append(total)
    defer { total += block.count }
    return ParameterSlot(offset: total, count: block.count)
  }

  public func slot(_ name: String) -> ParameterSlot? {
    guard let i = index[name] else { return nil }
    return ParameterSlot(offset: offsets[i], count: blocks[i].count)
  }
}

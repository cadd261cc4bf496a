import DiffusionCore
import Foundation
import XCTest

@testable import NeuralCore

/// Issue 14: UNet configs and safetensors files, generated bad, give a clean `InvalidInput` or a working model /
/// file, never a trap; sizes are budgeted before anything is allocated. Seeded property tests and the cases.
final class InputBudgetFuzzTests: XCTestCase {
  static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
  static let twoGB = 2_000_000_000

  func smallConfigJSON() throws -> JSONValue {
    try JSONReader.parse(Data(contentsOf: Self.fixtures.appendingPathComponent("unet-small/config.json")), source: "config.json")
  }

  func configText(_ edit: (inout [String: JSONValue]) -> Void) throws -> Data {
    guard case var .object(o) = try smallConfigJSON() else { throw InvalidInput("fixture", "not an object") }
    edit(&o)
    return Data(JSONMutation.render(.object(o)).utf8)
  }

  func assertRejected(_ body: @autoclosure () throws -> Any, field: String, line: UInt = #line) {
    XCTAssertThrowsError(try body(), line: line) { error in
      XCTAssertEqual((error as? InvalidInput)?.field, field, "\(error)", line: line)
    }
  }

  // MARK: the cases

  func testDownsamplePaddingThatBreaksTheSkipShapesIsRejectedAtLoad() throws {
    for p in 2...5 {  // issue 14 item 3: accepted, then a precondition failure in the up path
      assertRejected(try UNetConfig.parse(configText { $0["downsample_padding"] = .number(Double(p), literal: "\(p)") }),
                     field: "downsample_padding")
    }
    for p in 0...1 {
      XCTAssertNoThrow(try UNetConfig.parse(configText { $0["downsample_padding"] = .number(Double(p), literal: "\(p)") }))
    }
  }

  func testHugeChannelsAreRejectedBeforeAllocating() throws {
    // item 4: [1048576, 2097152] was accepted, allocated, then aborted
    assertRejected(try UNetConfig.parse(configText {
      $0["block_out_channels"] = .array([.number(1_048_576, literal: "1048576"), .number(2_097_152, literal: "2097152")])
    }), field: "block_out_channels[0]")
  }

  func testChannelsWithinLimitsButBeyondMemoryAreRefusedByTheBudget() throws {
    let config = try UNetConfig.parse(configText {
      $0["block_out_channels"] = .array([.number(4096, literal: "4096"), .number(8192, literal: "8192")])
    })
    XCTAssertGreaterThan(config.parameterCount, 1_000_000_000)
    // training: weights, gradient and Adam's moments in float32, far above 24 GB
    assertRejected(try config.checkMemory(batch: 1, height: 8, width: 8, scalarBytes: 4, parameterCopies: 4,
                                          field: "batch", available: 24_000_000_000), field: "block_out_channels")
    assertRejected(try UNet2DModel<Float>.checkWeightMemory(UNet2DModel<Float>.layout(config)), field: "block_out_channels")
  }

  func testBatchesAreBoundedAndBudgeted() throws {
    let tiny = UNetConfig.tiny
    // items 1, 2: Int.max overflowed the element count; 10^8 aborted in malloc
    assertRejected(try tiny.checkMemory(batch: Int.max, height: 8, width: 8, scalarBytes: 4, parameterCopies: 2, field: "batch"),
                   field: "batch")
    assertRejected(try tiny.checkMemory(batch: 60_000, height: 8, width: 8, scalarBytes: 8, parameterCopies: 2, field: "batch",
                                        available: Self.twoGB), field: "batch")
    XCTAssertNoThrow(try tiny.checkMemory(batch: 8, height: 8, width: 8, scalarBytes: 4, parameterCopies: 2, field: "batch",
                                          available: Self.twoGB))
    assertRejected(try Budget.elementCount([Int.max, 2, 8, 8], "batch"), field: "batch")
    XCTAssertEqual(try Budget.elementCount([3, 4, 5], "x"), 60)
  }

  /// The estimate must not undershoot what forward + VJP allocates by much: measured peak RSS of
  /// `bench unet --runs 1` (tiny b64: 44.0 MB, small b8: 168.5 MB, cifar10 b4: 557.3 MB) against the estimate.
  func testMemoryEstimateTracksMeasuredPeaks() {
    let cases: [(UNetConfig, Int, Int, Double)] = [(.tiny, 64, 8, 44.0e6), (.small, 8, 16, 168.5e6), (.cifar10, 4, 32, 557.3e6)]
    for (config, batch, size, measured) in cases {
      let estimate = config.memoryEstimate(batch: batch, height: size, width: size, scalarBytes: 4, parameterCopies: 2)
      XCTAssertEqual(estimate / measured, 1, accuracy: 0.25, "estimate \(estimate) vs measured \(measured)")
    }
  }

  /// Item 7: a finite but huge input made a float64 UNet write NaN/Inf tensors with exit 0.
  func testNonFiniteOutputsAreRefusedNamingTheFirstTensor() throws {
    let unet = try UNet2DModel<Double>(config: .tiny, seed: 0)
    let x = [Double](repeating: 1e308, count: 64)  // finite, but the first convolution's sums overflow
    let z = [Double](repeating: 0, count: UNetConfig.tiny.conditionDimension)
    let r = try unet.vjp(x, batch: 1, height: 8, width: 8, timesteps: [500], z: z, cotangent: [Double](repeating: 1, count: 64))
    let entries = [SafeTensorsFile.Entry("eps", shape: [1, 1, 8, 8], doubles: r.eps),
                   SafeTensorsFile.Entry("vjp_x", shape: [1, 1, 8, 8], doubles: r.x),
                   SafeTensorsFile.Entry("vjp_param", shape: [r.parameters.count], doubles: r.parameters)]
    XCTAssertFalse(r.parameters.allSatisfy(\.isFinite) && r.x.allSatisfy(\.isFinite) && r.eps.allSatisfy(\.isFinite))
    XCTAssertThrowsError(try SafeTensorsFile.checkFinite(entries)) { error in
      XCTAssertTrue((error as? InvalidInput)?.field.hasPrefix("tensor \"") == true, "\(error)")
    }
    // a Double beyond Float's range stored as F32 is non-finite as written
    assertRejected(try SafeTensorsFile.checkFinite([SafeTensorsFile.Entry("w", shape: [2], doubles: [1, 1e300], dtype: .f32)]),
                   field: "tensor \"w\"")
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("adjointdeis-finite-\(getpid()).safetensors")
    XCTAssertThrowsError(try SafeTensorsFile.write(entries, to: url))
    XCTAssertFalse(FileManager.default.fileExists(atPath: url.path))
  }

  // MARK: property tests

  /// Seeded mutations of a real UNet config: each is refused with an `InvalidInput`, or builds a model whose
  /// forward pass on one 8 x 8 image returns (or refuses the shape) without trapping.
  func testGeneratedUNetConfigsNeverTrap() throws {
    let root = try smallConfigJSON()
    var rng = SeededGenerator(seed: 142)
    var counts = (refused: 0, built: 0)
    for case_ in 0..<300 {
      let text = JSONMutation.render(JSONMutation.mutate(root, &rng))
      do {
        let config = try UNetConfig.parse(Data(text.utf8))
        try config.checkMemory(batch: 1, height: 8, width: 8, scalarBytes: 8, parameterCopies: 2, field: "batch", available: Self.twoGB)
        guard config.parameterCount < 300_000 else { continue }
        let unet = try UNet2DModel<Double>(config: config, seed: 1)
        let x = [Double](repeating: 0.5, count: config.inChannels * 64)
        let z = [Double](repeating: 0.1, count: config.conditionDimension)
        do {
          let eps = try unet.forward(x, batch: 1, height: 8, width: 8, timesteps: [10], z: z)
          XCTAssertEqual(eps.count, config.outChannels * 64)
        } catch let e as InvalidInput {
          XCTAssertEqual(e.field, "x", "case \(case_): \(e)")  // only the image shape may not fit the levels
        }
        counts.built += 1
      } catch let e as InvalidInput {
        XCTAssertFalse(e.reason.contains("\n"), "case \(case_): \(e)")
        counts.refused += 1
      }
    }
    XCTAssertGreaterThan(counts.refused, 100)
    XCTAssertGreaterThan(counts.built, 20)
  }

  /// Seeded structural corruptions of a valid safetensors file (header JSON mutations re-encoded with a correct
  /// length, wrong declared lengths, truncations, byte flips): each is refused with an `InvalidInput` naming the
  /// file, or parses into tensors whose values can all be read.
  func testCorruptedSafeTensorsNeverTrap() throws {
    let entries = [SafeTensorsFile.Entry("a", shape: [2, 3], doubles: [1, 2, 3, 4, 5, 6]),
                   SafeTensorsFile.Entry("b", shape: [4], floats: [1, 2, 3, 4]),
                   SafeTensorsFile.Entry("c", shape: [], doubles: [7])]
    let valid = try SafeTensorsFile.encode(entries, metadata: ["format": "pt"])
    let headerLength = Int(valid.prefix(8).withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) })
    let header = try JSONReader.parse(valid.subdata(in: 8..<(8 + headerLength)), source: "header")
    let body = valid.subdata(in: (8 + headerLength)..<valid.count)
    var rng = SeededGenerator(seed: 143)
    var counts = (refused: 0, parsed: 0)
    for case_ in 0..<600 {
      var data: Data
      switch case_ % 4 {
      case 0, 1:  // header structure, re-encoded with its true length
        let json = Data(JSONMutation.render(JSONMutation.mutate(header, &rng)).utf8)
        data = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(json)
        data.append(body.prefix(Int(rng.next() % UInt64(body.count + 9))))
      case 2:  // byte flips anywhere
        data = valid
        for _ in 0..<(1 + Int(rng.next() % 4)) {
          let i = Int(rng.next() % UInt64(data.count))
          data[i] ^= UInt8(1 << (rng.next() % 8))
        }
      default:  // declared length or truncation
        data = valid
        if rng.next() % 2 == 0 {
          let declared = [UInt64.max, UInt64(Int.max), 0, 1, UInt64(headerLength - 1), UInt64(headerLength + 8), 100_000_001]
          withUnsafeBytes(of: declared[Int(rng.next() % UInt64(declared.count))].littleEndian) {
            data.replaceSubrange(0..<8, with: $0)
          }
        } else {
          data = data.prefix(Int(rng.next() % UInt64(data.count)))
        }
      }
      do {
        let file = try SafeTensorsFile(data: data, source: "fuzz.safetensors")
        for name in file.names { XCTAssertEqual(file[name]!.doubles().count, file[name]!.count) }
        counts.parsed += 1
      } catch let e as InvalidInput {
        XCTAssertTrue(e.field.hasPrefix("fuzz.safetensors"), "case \(case_): \(e)")
        counts.refused += 1
      }
    }
    XCTAssertGreaterThan(counts.refused, 300)
    XCTAssertGreaterThan(counts.parsed, 10)
  }
}

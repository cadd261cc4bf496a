import DiffusionCore
import Foundation
import XCTest

@testable import NeuralCore

/// The safetensors reader and writer: round trips, files written by the python reference (numpy and torch, incl. F16
/// and BF16), the committed UNet fixtures, and every kind of malformed file (each must throw `InvalidInput`).
final class SafeTensorsTests: XCTestCase {
  static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

  // MARK: round trip

  func testRoundTripKeepsValuesShapesTypesAndMetadata() throws {
    let doubles = (0..<24).map { Double($0) * 0.1 - 1.0 + 1e-12 }
    let floats: [Float] = [1.5, -2.25, .pi, 1e-30, -.infinity, 0]
    let entries = [
      SafeTensorsFile.Entry("w.double", shape: [2, 3, 4], doubles: doubles),
      SafeTensorsFile.Entry("a.float", shape: [6], floats: floats),
      SafeTensorsFile.Entry("double-as-f32", shape: [4, 6], doubles: doubles, dtype: .f32),
      SafeTensorsFile.Entry("float-as-f64", shape: [3, 2], floats: floats, dtype: .f64),
      SafeTensorsFile.Entry("scalar", shape: [], doubles: [42]),
      SafeTensorsFile.Entry("empty", shape: [0, 5], floats: []),
    ]
    let metadata = ["format": "pt", "quote\"and\\slash": "line\nbreak é"]
    let data = try SafeTensorsFile.encode(entries, metadata: metadata)
    let file = try SafeTensorsFile(data: data)

    XCTAssertEqual(file.names, ["a.float", "double-as-f32", "empty", "float-as-f64", "scalar", "w.double"])
    XCTAssertEqual(file.metadata, metadata)
    let w = try file.tensor("w.double")
    XCTAssertEqual(w.dtype, .f64)
    XCTAssertEqual(w.shape, [2, 3, 4])
    XCTAssertEqual(w.doubles(), doubles)  // exact: F64 is stored bit for bit
    XCTAssertEqual(w.floats(), doubles.map { Float($0) })
    XCTAssertEqual(try file.tensor("a.float").floats(), floats)
    XCTAssertEqual(try file.tensor("double-as-f32").dtype, .f32)
    XCTAssertEqual(try file.tensor("double-as-f32").doubles(), doubles.map { Double(Float($0)) })
    XCTAssertEqual(try file.tensor("float-as-f64").doubles(), floats.map { Double($0) })
    XCTAssertEqual(try file.tensor("scalar").shape, [])
    XCTAssertEqual(try file.tensor("scalar").doubles(), [42])
    XCTAssertEqual(try file.tensor("empty").count, 0)
    XCTAssertEqual(try file.tensor("empty").doubles(), [])
    XCTAssertNoThrow(try w.checkShape([2, 3, 4]))
    XCTAssertThrowsError(try w.checkShape([24])) { XCTAssertTrue("\($0)".contains("w.double")) }
    XCTAssertThrowsError(try file.tensor("missing")) { XCTAssertTrue("\($0)".contains("missing")) }

    // Layout as the reference writes it: header padded with spaces to a multiple of 8, data in sorted-name order.
    let headerLength = data.prefix(8).withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
    XCTAssertEqual(headerLength % 8, 0)
    let header = String(decoding: data[8..<(8 + headerLength)], as: UTF8.self)
    XCTAssertTrue(header.hasPrefix("{\"__metadata__\":{"))
    let starts = file.names.map { try! file.tensor($0).byteRange.lowerBound }
    XCTAssertEqual(starts, starts.sorted())
    XCTAssertEqual(data.count, 8 + headerLength + 24 * 8 + 6 * 4 + 24 * 4 + 6 * 8 + 8)
  }

  func testWriteGoesThroughTheFileSystem() throws {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("st-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let url = directory.appendingPathComponent("t.safetensors")
    try SafeTensorsFile.write([.init("x", shape: [2], doubles: [1, 2])], metadata: ["k": "v"], to: url)
    let file = try SafeTensorsFile.read(url)
    XCTAssertEqual(try file.tensor("x").doubles(), [1, 2])
    XCTAssertEqual(file.metadata, ["k": "v"])
    XCTAssertThrowsInvalid(try SafeTensorsFile.read(directory.appendingPathComponent("absent.safetensors")), field: "absent.safetensors", suffix: true)
    XCTAssertThrowsError(
      try SafeTensorsFile.write([.init("x", shape: [1], doubles: [1])], to: directory.appendingPathComponent("no/t")))
  }

  func testWriterRejectsInconsistentEntries() {
    func rejects(_ entries: [SafeTensorsFile.Entry], mentioning text: String, line: UInt = #line) {
      XCTAssertThrowsError(try SafeTensorsFile.encode(entries), line: line) { error in
        XCTAssertTrue(error is InvalidInput, line: line)
        XCTAssertTrue("\(error)".contains(text), "\(error)", line: line)
      }
    }
    rejects([.init("a", shape: [2, 2], doubles: [1, 2, 3])], mentioning: "needs 4 values")
    rejects([.init("a", shape: [-1], doubles: [])], mentioning: "negative")
    rejects([.init("a", shape: [1], doubles: [1]), .init("a", shape: [1], floats: [1])], mentioning: "twice")
    rejects([.init("a", shape: [1], doubles: [1], dtype: .f16)], mentioning: "F16")
    rejects([.init("__metadata__", shape: [1], doubles: [1])], mentioning: "__metadata__")
    rejects([.init("", shape: [1], doubles: [1])], mentioning: "valid tensor name")
  }

  // MARK: files written by the python reference (scripts/fixtures/make_safetensors_fixtures.py)

  static let grid = (0..<12).map { Double($0) * 0.25 - 1.5 }

  func testReadsNumpyWrittenFileOfEveryDtype() throws {
    let file = try SafeTensorsFile.read(Self.fixtures.appendingPathComponent("safetensors/dtypes.safetensors"))
    XCTAssertEqual(file.metadata, ["format": "np", "note": "tiny \"fixture\""])
    XCTAssertEqual(file.names, ["empty", "f16", "f32", "f64", "i32", "i64", "scalar", "u8"])

    let f64 = try file.tensor("f64")
    XCTAssertEqual(f64.dtype, .f64)
    XCTAssertEqual(f64.shape, [2, 7])
    XCTAssertEqual(f64.doubles(), Self.grid + [1e-300, Double.pi])

    let f32 = try file.tensor("f32")
    XCTAssertEqual(f32.shape, [3, 4])
    XCTAssertEqual(f32.floats(), Self.grid.map { Float($0) })
    XCTAssertEqual(f32.doubles(), Self.grid)

    let f16 = try file.tensor("f16")
    XCTAssertEqual(f16.dtype, .f16)
    XCTAssertEqual(f16.shape, [4, 2, 2])
    let half = f16.doubles()
    XCTAssertEqual(Array(half.prefix(14)), Self.grid + [65504, 0x1p-24])  // largest finite, smallest subnormal
    XCTAssertEqual(half[14], 0)
    XCTAssertEqual(half[14].sign, .minus)  // negative zero keeps its sign
    XCTAssertEqual(half[15], .infinity)

    XCTAssertEqual(try file.tensor("i64").doubles(), [-0x1p40, -1, 0, 7])
    XCTAssertEqual(try file.tensor("i64").dtype, .i64)
    XCTAssertEqual(try file.tensor("i32").doubles(), [-5, 0, 3, 2_147_483_647])
    XCTAssertEqual(try file.tensor("u8").floats(), [0, 1, 255])
    XCTAssertEqual(try file.tensor("scalar").shape, [])
    XCTAssertEqual(try file.tensor("scalar").floats(), [2.5])
    XCTAssertEqual(try file.tensor("empty").shape, [0, 3])
    XCTAssertEqual(try file.tensor("empty").floats(), [])
  }

  func testReadsTorchWrittenBFloat16() throws {
    let file = try SafeTensorsFile.read(Self.fixtures.appendingPathComponent("safetensors/torch.safetensors"))
    XCTAssertEqual(file.metadata, ["format": "pt"])
    let bf16 = try file.tensor("bf16")
    XCTAssertEqual(bf16.dtype, .bf16)
    XCTAssertEqual(bf16.shape, [2, 8])
    // bf16(-1e30) and bf16(2^-130) as torch rounds them, printed by the fixture script.
    let expected = Self.grid.map { Float($0) } + [3.140625, -1.0002555517425873e+30, 0x1p-130, -.infinity]
    XCTAssertEqual(bf16.floats(), expected)
    XCTAssertEqual(try file.tensor("weight").doubles(), [0, 1, 2, 3, 4, 5].map { $0 / 8 })
  }

  func testHalfPrecisionBitsConvertExactly() {
    XCTAssertEqual(HalfPrecision.float(fromHalfBits: 0x3C00), 1)
    XCTAssertEqual(HalfPrecision.float(fromHalfBits: 0xC000), -2)
    XCTAssertEqual(HalfPrecision.float(fromHalfBits: 0x7BFF), 65504)
    XCTAssertEqual(HalfPrecision.float(fromHalfBits: 0x0001), 0x1p-24)
    XCTAssertEqual(HalfPrecision.float(fromHalfBits: 0x03FF), 1023 * 0x1p-24)  // largest subnormal
    XCTAssertEqual(HalfPrecision.float(fromHalfBits: 0x0400), 0x1p-14)  // smallest normal
    XCTAssertEqual(HalfPrecision.float(fromHalfBits: 0xFC00), -.infinity)
    XCTAssertTrue(HalfPrecision.float(fromHalfBits: 0x7E00).isNaN)
    XCTAssertEqual(HalfPrecision.float(fromBFloat16Bits: 0x3F80), 1)
    XCTAssertEqual(HalfPrecision.float(fromBFloat16Bits: 0xC049), -3.140625)
  }

  // MARK: the committed UNet fixtures are complete and consistent

  func testUNetFixturesHaveEveryParameterAndItsVJP() throws {
    for (directory, expectedName, dtype, conditioned) in [
      ("unet-small", "expected.safetensors", SafeTensorDType.f64, true),
      ("unet-small-f32", "expected-f32.safetensors", .f32, true),
      ("unet-small-b", "expected.safetensors", .f64, false),
    ] {
      let folder = Self.fixtures.appendingPathComponent(directory)
      let weights = try SafeTensorsFile.read(folder.appendingPathComponent("diffusion_pytorch_model.safetensors"))
      let inputs = try SafeTensorsFile.read(folder.appendingPathComponent("inputs.safetensors"))
      let expected = try SafeTensorsFile.read(folder.appendingPathComponent(expectedName))
      XCTAssertGreaterThan(weights.tensors.count, 100, directory)
      for name in weights.names {
        let w = try weights.tensor(name)
        XCTAssertEqual(w.dtype, dtype, name)
        let g = try expected.tensor("vjp_param." + name)
        XCTAssertEqual(g.shape, w.shape, name)
        XCTAssertEqual(g.dtype, dtype, name)
      }
      let x = try inputs.tensor("x")
      XCTAssertEqual(x.shape, [2, 2, 8, 8], directory)
      try inputs.tensor("cotangent").checkShape(x.shape)
      try expected.tensor("eps").checkShape(x.shape)
      try expected.tensor("vjp_x").checkShape(x.shape)
      XCTAssertEqual(try inputs.tensor("t").doubles(), [17, 503], directory)
      XCTAssertEqual(inputs["z"] != nil, conditioned, directory)
      XCTAssertEqual(expected["vjp_z"] != nil, conditioned, directory)
      let parameterCount = weights.tensors.values.reduce(0) { $0 + $1.count }
      XCTAssertEqual(parameterCount, directory == "unet-small-b" ? 26682 : 45114, directory)
    }
  }

  // MARK: malformed files

  /// A file with this header text and `dataLength` zero bytes of data.
  private func file(_ header: String, dataLength: Int = 0, declaredLength: UInt64? = nil) -> Data {
    let json = Data(header.utf8)
    var data = Data()
    withUnsafeBytes(of: (declaredLength ?? UInt64(json.count)).littleEndian) { data.append(contentsOf: $0) }
    data.append(json)
    data.append(Data(count: dataLength))
    return data
  }

  private func assertRejected(_ data: Data, mentioning text: String, line: UInt = #line) {
    XCTAssertThrowsError(try SafeTensorsFile(data: data, source: "bad.safetensors"), line: line) { error in
      guard let invalid = error as? InvalidInput else {
        return XCTFail("expected InvalidInput, got \(error)", line: line)
      }
      XCTAssertTrue(invalid.description.hasPrefix("bad.safetensors"), invalid.description, line: line)
      XCTAssertTrue(invalid.description.contains(text), "\(invalid) should mention \(text)", line: line)
    }
  }

  private func tensor(_ name: String, _ dtype: String = "F32", _ shape: String, _ offsets: String) -> String {
    "\"\(name)\":{\"dtype\":\"\(dtype)\",\"shape\":\(shape),\"data_offsets\":\(offsets)}"
  }

  func testValidHandMadeFileParses() throws {
    // The reference's own example layout, without metadata; the checks below break one thing at a time.
    let data = file("{\(tensor("a", "F32", "[2]", "[0,8]")),\(tensor("b", "F64", "[1]", "[8,16]"))}   ", dataLength: 16)
    let parsed = try SafeTensorsFile(data: data)
    XCTAssertEqual(parsed.names, ["a", "b"])
    XCTAssertEqual(parsed.metadata, [:])
  }

  func testTruncatedFilesThrow() throws {
    assertRejected(Data(), mentioning: "shorter than the 8-byte")
    assertRejected(Data([1, 0, 0]), mentioning: "shorter than the 8-byte")
    let valid = try SafeTensorsFile.encode([.init("weight", shape: [3], doubles: [1, 2, 3])])
    for cut in [8, 20, valid.count - 9, valid.count - 1] {
      XCTAssertThrowsError(try SafeTensorsFile(data: valid.prefix(cut)), "cut at \(cut)") {
        XCTAssertTrue($0 is InvalidInput)
      }
    }
    assertRejected(valid.prefix(valid.count - 8), mentioning: "\"weight\"")  // data cut: offsets beyond the buffer
  }

  func testHeaderLengthBeyondFileThrows() {
    assertRejected(file("{}", declaredLength: 3), mentioning: "past the end")
    assertRejected(file("{}", declaredLength: 1 << 40), mentioning: "exceeds the limit")
    assertRejected(file("{}", declaredLength: UInt64.max), mentioning: "exceeds the limit")
  }

  func testMalformedJSONThrows() {
    assertRejected(file("{\"a\": {"), mentioning: "not valid JSON")
    assertRejected(file("[1, 2]"), mentioning: "does not start with '{'")
    assertRejected(file(" {}"), mentioning: "does not start with '{'")
    assertRejected(file(""), mentioning: "does not start with '{'")
    var invalidUTF8 = file("{\"\u{e9}\":1}")
    invalidUTF8[10] = 0xFF
    XCTAssertThrowsError(try SafeTensorsFile(data: invalidUTF8)) { XCTAssertTrue($0 is InvalidInput) }
    assertRejected(file("{\"a\": 3}"), mentioning: "\"a\"")
    assertRejected(file("{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", dataLength: 4), mentioning: "dtype")
    assertRejected(file("{\(tensor("a", "F32", "[2.5]", "[0,4]"))}", dataLength: 4), mentioning: "shape")
    assertRejected(file("{\(tensor("a", "F32", "[\"1\"]", "[0,4]"))}", dataLength: 4), mentioning: "shape")
    assertRejected(file("{\(tensor("a", "F32", "[1]", "0"))}", dataLength: 4), mentioning: "data_offsets")
    assertRejected(file("{\"__metadata__\":{\"k\":1}}"), mentioning: "__metadata__")
  }

  func testUnknownDtypeThrowsNamingTheTensor() {
    assertRejected(file("{\(tensor("w", "F8_E4M3", "[1]", "[0,1]"))}", dataLength: 1), mentioning: "F8_E4M3")
    assertRejected(file("{\(tensor("w", "f32", "[1]", "[0,4]"))}", dataLength: 4), mentioning: "tensor \"w\"")
  }

  func testShapeAndSpanMismatchesThrow() {
    assertRejected(file("{\(tensor("w", "F32", "[2]", "[0,12]"))}", dataLength: 12), mentioning: "span 12 bytes")
    assertRejected(file("{\(tensor("w", "F64", "[2]", "[0,8]"))}", dataLength: 8), mentioning: "needs 16")
    assertRejected(file("{\(tensor("w", "F32", "[-1,2]", "[0,8]"))}", dataLength: 8), mentioning: "negative")
    assertRejected(
      file("{\(tensor("w", "F32", "[4611686018427387904,4]", "[0,8]"))}", dataLength: 8), mentioning: "overflows")
    assertRejected(
      file("{\(tensor("w", "F32", "[2305843009213693952]", "[0,8]"))}", dataLength: 8), mentioning: "overflows")
  }

  func testOffsetsOutsideOrOverlappingOrOutOfOrderThrow() {
    assertRejected(file("{\(tensor("w", "F32", "[4]", "[0,16]"))}", dataLength: 8), mentioning: "not inside")
    assertRejected(file("{\(tensor("w", "F32", "[1]", "[-4,0]"))}", dataLength: 8), mentioning: "not inside")
    assertRejected(file("{\(tensor("w", "F32", "[1]", "[8,4]"))}", dataLength: 8), mentioning: "not inside")
    assertRejected(file("{\(tensor("w", "F32", "[1]", "[0,4,8]"))}", dataLength: 8), mentioning: "[begin, end]")
    assertRejected(
      file("{\(tensor("a", "F32", "[2]", "[0,8]")),\(tensor("b", "F32", "[2]", "[4,12]"))}", dataLength: 12),
      mentioning: "overlap")
    assertRejected(
      file("{\(tensor("a", "F32", "[1]", "[0,4]")),\(tensor("b", "F32", "[1]", "[8,12]"))}", dataLength: 12),
      mentioning: "gap")
    assertRejected(file("{\(tensor("a", "F32", "[1]", "[4,8]"))}", dataLength: 8), mentioning: "start of the buffer")
    assertRejected(file("{\(tensor("a", "F32", "[1]", "[0,4]"))}", dataLength: 8), mentioning: "after the last tensor")
  }

  /// Random truncations and byte flips of a valid file: every outcome is a clean error or a file whose tensors can
  /// all be converted (never a crash or an out-of-bounds read).
  func testCorruptedFilesNeverCrash() throws {
    let valid = try SafeTensorsFile.encode(
      [.init("a", shape: [2, 3], doubles: [1, 2, 3, 4, 5, 6]), .init("b", shape: [2], floats: [7, 8])],
      metadata: ["m": "v"])
    var generator = SeededGenerator(seed: 7)
    var failures = 0
    for _ in 0..<300 {
      var data = valid
      let flips = Int.random(in: 1...3, using: &generator)
      for _ in 0..<flips {
        data[Int.random(in: 0..<data.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
      }
      if Bool.random(using: &generator) { data = data.prefix(Int.random(in: 0...data.count, using: &generator)) }
      do {
        let parsed = try SafeTensorsFile(data: data)
        for tensor in parsed.tensors.values { XCTAssertEqual(tensor.doubles().count, tensor.count) }
      } catch {
        XCTAssertTrue(error is InvalidInput, "\(error)")
        failures += 1
      }
    }
    XCTAssertGreaterThan(failures, 100)  // the corruption really hits the header most of the time
  }
}

import DiffusionCore
import Foundation
import XCTest

@testable import NeuralCore

/// config.json parsing, the parameter names and counts, and weight loading errors that name the tensor.
final class UNetConfigTests: XCTestCase {
  private func parse(_ json: String) throws -> UNetConfig { try UNetConfig.parse(Data(json.utf8)) }

  private func assertRejects(_ json: String, naming field: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertThrowsError(try parse(json), file: file, line: line) { error in
      XCTAssertEqual((error as? InvalidInput)?.field, field, "\(error)", file: file, line: line)
    }
  }

  func testCifarLayoutNamesAndCount() throws {
    let layout = UNet2DModel<Float>.layout(.cifar10)
    XCTAssertEqual(layout.total, 35_746_307)
    let names = Set(layout.blocks.map(\.name))
    for name in [
      "conv_in.weight", "time_embedding.linear_1.weight", "time_embedding.linear_2.bias",
      "down_blocks.0.resnets.0.norm1.weight", "down_blocks.0.downsamplers.0.conv.weight",
      "down_blocks.1.resnets.0.conv_shortcut.weight", "down_blocks.1.attentions.1.to_out.0.weight",
      "mid_block.attentions.0.to_q.weight", "mid_block.resnets.1.time_emb_proj.weight",
      "up_blocks.2.attentions.2.group_norm.bias", "up_blocks.0.upsamplers.0.conv.bias", "conv_norm_out.weight", "conv_out.bias",
    ] {
      XCTAssertTrue(names.contains(name), name)
    }
    XCTAssertFalse(names.contains("up_blocks.3.upsamplers.0.conv.weight"))
    XCTAssertFalse(names.contains("down_blocks.3.downsamplers.0.conv.weight"))
    XCTAssertEqual(layout.blocks[layout.index["up_blocks.0.resnets.0.conv1.weight"]!].shape, [256, 512, 3, 3])
    XCTAssertEqual(layout.blocks[layout.index["up_blocks.3.resnets.2.conv1.weight"]!].shape, [128, 256, 3, 3])
    XCTAssertEqual(layout.blocks[layout.index["mid_block.attentions.0.to_k.weight"]!].shape, [256, 256])
  }

  func testDefaultsAndNulls() throws {
    let c = try parse(#"{"_class_name": "UNet2DModel", "attention_head_dim": null, "class_embed_type": "identity", "sample_size": [16, 16]}"#)
    XCTAssertNil(c.attentionHeadDim)
    XCTAssertTrue(c.classEmbedIdentity)
    XCTAssertEqual(c.sampleSize, 16)
    XCTAssertEqual(c.blockOutChannels, [224, 448, 672, 896])
    XCTAssertEqual(c.conditionDimension, 896)
  }

  /// Each nullable field read as diffusers' UNet2DModel reads None (docstring and __init__ of unet_2d.py): null is the
  /// default only where diffusers substitutes the default for None; where it tests truthiness, null is false; where
  /// None changes the architecture (mid_block_type: no mid block) or fails in diffusers, it is refused by name.
  func testNullFieldsMeanWhatTheyMeanInDiffusers() throws {
    // None replaced by a default or a derived value in diffusers
    let defaults = try parse(#"{"sample_size": null, "time_embedding_dim": null, "attention_head_dim": null, "attn_norm_num_groups": null, "class_embed_type": null, "num_class_embeds": null, "num_train_timesteps": null}"#)
    XCTAssertNil(defaults.sampleSize)
    XCTAssertEqual(defaults.timeEmbedDim, 4 * 224, "time_embedding_dim or 4 block_out_channels[0]")
    XCTAssertNil(defaults.attentionHeadDim, "one head per block: attention_head_dim if not None else output_channel")
    XCTAssertNil(defaults.attnNormNumGroups)
    XCTAssertFalse(defaults.classEmbedIdentity)
    XCTAssertNil(defaults.numClassEmbeds)
    // None where diffusers tests truthiness: false, not the default true
    let falsy = try parse(#"{"flip_sin_to_cos": null, "add_attention": null, "center_input_sample": null}"#)
    XCTAssertFalse(falsy.flipSinToCos)
    XCTAssertFalse(falsy.addAttention)
    XCTAssertFalse(falsy.centerInputSample)
    // absent: diffusers' defaults
    let absent = try parse("{}")
    XCTAssertTrue(absent.flipSinToCos)
    XCTAssertTrue(absent.addAttention)
    XCTAssertFalse(absent.centerInputSample)
    XCTAssertEqual(absent.attentionHeadDim, 8)
    // attention_head_dim only has to fit the blocks with attention (and the mid block): 16 with an 8-channel
    // DownBlock2D is what null means for the fixture's layout, and diffusers accepts it
    let sixteen = try parse(#"{"block_out_channels": [8, 16], "down_block_types": ["DownBlock2D", "AttnDownBlock2D"], "up_block_types": ["AttnUpBlock2D", "UpBlock2D"], "norm_num_groups": 4, "attention_head_dim": 16}"#)
    XCTAssertEqual(sixteen.attentionHeadDim, 16)
    assertRejects(#"{"block_out_channels": [8, 16], "down_block_types": ["AttnDownBlock2D", "DownBlock2D"], "up_block_types": ["UpBlock2D", "AttnUpBlock2D"], "norm_num_groups": 4, "attention_head_dim": 16}"#, naming: "attention_head_dim")
    // None that removes a part or fails in diffusers: refused, naming the field
    for key in ["mid_block_type", "in_channels", "out_channels", "freq_shift", "time_embedding_type", "down_block_types",
                "up_block_types", "block_out_channels", "layers_per_block", "mid_block_scale_factor", "downsample_padding",
                "downsample_type", "upsample_type", "dropout", "act_fn", "norm_num_groups", "norm_eps", "resnet_time_scale_shift"] {
      assertRejects(#"{"\#(key)": null}"#, naming: key)
    }
  }

  func testUnsupportedOptionsAreNamed() {
    assertRejects(#"{"time_embedding_type": "fourier"}"#, naming: "time_embedding_type")
    assertRejects(#"{"resnet_time_scale_shift": "scale_shift"}"#, naming: "resnet_time_scale_shift")
    assertRejects(#"{"class_embed_type": "timestep"}"#, naming: "class_embed_type")
    assertRejects(#"{"num_class_embeds": 0}"#, naming: "num_class_embeds")  // a class table is supported (DiffusionPipeline keeps it); an empty one is not
    assertRejects(#"{"act_fn": "gelu"}"#, naming: "act_fn")
    assertRejects(#"{"downsample_type": "resnet"}"#, naming: "downsample_type")
    assertRejects(#"{"upsample_type": "resnet"}"#, naming: "upsample_type")
    assertRejects(#"{"_class_name": "UNet2DConditionModel"}"#, naming: "_class_name")
    assertRejects(#"{"down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D", "DownBlock2D", "DownBlock2D"]}"#, naming: "down_block_types")
    assertRejects(#"{"norm_num_groups": null}"#, naming: "norm_num_groups")
    assertRejects(#"{"norm_num_groups": 5}"#, naming: "norm_num_groups")
    assertRejects(#"{"layers_per_block": "two"}"#, naming: "layers_per_block")
    assertRejects(#"{"flip_sin_to_cos": 1}"#, naming: "flip_sin_to_cos")
    assertRejects(#"{"no_such_option": 1}"#, naming: "no_such_option")
    assertRejects(#"{"block_out_channels": [32, 64]}"#, naming: "down_block_types")
    XCTAssertThrowsInvalid(try parse("[1, 2]"), field: "config.json")
  }

  func testWeightLoadingErrorsNameTheTensor() throws {
    let model = try UNet2DModel<Double>(config: .tiny, seed: 1)
    var weights: [String: WeightTensor] = [:]
    for (i, block) in model.parameterBlocks.enumerated() {
      let o = model.layout.offsets[i]
      weights[block.name] = WeightTensor(shape: block.shape, values: Array(model.parameters[o..<o + block.count]))
    }
    let loaded = try UNet2DModel<Double>(config: .tiny, weights: weights)
    XCTAssertEqual(loaded.parameters, model.parameters)

    var missing = weights
    missing["mid_block.attentions.0.to_v.bias"] = nil
    XCTAssertThrowsError(try UNet2DModel<Double>(config: .tiny, weights: missing)) {
      XCTAssertEqual(($0 as? InvalidInput)?.field, "mid_block.attentions.0.to_v.bias")
    }
    var extra = weights
    extra["mid_block.attentions.0.extra.weight"] = WeightTensor(shape: [1], values: [0.0])
    XCTAssertThrowsError(try UNet2DModel<Double>(config: .tiny, weights: extra)) {
      XCTAssertEqual(($0 as? InvalidInput)?.field, "mid_block.attentions.0.extra.weight")
    }
    var wrong = weights
    wrong["conv_in.weight"] = WeightTensor(shape: [8, 1, 3, 2], values: [Double](repeating: 0, count: 48))
    XCTAssertThrowsError(try UNet2DModel<Double>(config: .tiny, weights: wrong)) {
      XCTAssertEqual(($0 as? InvalidInput)?.field, "conv_in.weight")
    }
    // pre-0.14 attention names load into the same slots
    var legacy = weights
    let q = legacy.removeValue(forKey: "mid_block.attentions.0.to_q.weight")!
    legacy["mid_block.attentions.0.query.weight"] = q
    XCTAssertEqual(try UNet2DModel<Double>(config: .tiny, weights: legacy).parameters, model.parameters)
  }

  func testNamedLayoutsBuild() throws {
    XCTAssertEqual(try UNet2DModel<Float>.named("tiny").config, .tiny)
    XCTAssertThrowsError(try UNet2DModel<Float>.named("/no/such/dir")) { XCTAssertEqual(($0 as? InvalidInput)?.field, "model") }
  }
}

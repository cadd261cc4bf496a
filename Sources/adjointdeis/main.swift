import ArgumentParser
import NeuralCore

/// The command-line tool. Each subcommand lives in its own file beside this one.
struct AdjointDEIS: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "adjointdeis",
    abstract: "Gradients through diffusion samplers with the continuous adjoint (AdjointDEIS).",
    subcommands: [GradientCommand.self, ConvergenceCommand.self, UNetVJPCommand.self, BenchCommand.self, TrainCommand.self,
                  NetworkStudyCommand.self, RecognizerCommand.self, MorphCommand.self, MergeCommand.self, CostAccuracyCommand.self, WhichGradientCommand.self, InvertCommand.self,
                  GuideCommand.self, MakePipelineCommand.self])
}

// Debian's OpenBLAS may fall back to slow generic kernels on this CPU; pick the fast ones before any BLAS call.
OpenBLASKernels.selectForThisCPU()
CommandLineRunner.main(AdjointDEIS.self)

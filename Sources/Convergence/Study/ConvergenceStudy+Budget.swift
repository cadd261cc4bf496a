import DiffusionCore

/// A study's counts against their stated maxima (see `Budget`), checked before any shape arithmetic or work.
extension ConvergenceStudy {
  func validateBudget() throws {
    try rule.validate()  // --floor and the fit's settings, before any work rather than at the first fit
    for m in steps { try Budget.count(m, "steps", maximum: Budget.Limit.steps) }
    try Budget.count(seeds, "seeds", maximum: Budget.Limit.seeds)
    try Budget.count(paths, "paths", maximum: Budget.Limit.paths)
    try Budget.count(fineFactor, "fine-factor", maximum: Budget.Limit.fineSteps)
    if kind == .sde, let top = steps.last {
      let (fine, overflow) = top.multipliedReportingOverflow(by: fineFactor)
      guard !overflow, fine <= Budget.Limit.fineSteps else {
        throw InvalidInput("fine-factor", "the reference path of \(top) x \(fineFactor) fine steps exceeds the limit of \(Budget.Limit.fineSteps)")
      }
    }
  }
}

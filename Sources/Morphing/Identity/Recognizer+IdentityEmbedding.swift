import NeuralCore

/// NeuralCore's CNN recognizer already has `embed` and `vjp` with the protocol's signatures.
extension Recognizer: IdentityEmbedding {}

// placeholder so the target builds; see the issue for ToyModels

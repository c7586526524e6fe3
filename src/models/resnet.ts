// Registered by the resnet work (stub until then).
export {};

// Registered by the dwnet work (stub until then).
export {};

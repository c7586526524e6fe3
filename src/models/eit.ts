// Registered by the eit work (stub until then).
export {};

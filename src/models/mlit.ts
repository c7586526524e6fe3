// Registered by the mlit work (stub until then).
export {};

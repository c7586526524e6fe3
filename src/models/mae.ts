// Registered by the mae work (stub until then).
export {};

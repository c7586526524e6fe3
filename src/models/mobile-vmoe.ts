// Registered by the mobile-vmoe work (stub until then).
export {};

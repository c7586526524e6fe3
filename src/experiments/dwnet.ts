// Experiments of this paper register themselves here (stub until the paper's work lands).
export {};

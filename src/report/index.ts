/** Reproduction surface: results store, tables, figures, export, notebook display helpers. */
export * from './types';
export * from './store';
export * from './table';
export * from './figures';
export * from './export';
export * from './render';
export * from './notebook';
export * from './architecture';

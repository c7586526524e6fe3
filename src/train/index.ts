export * from './types';
export * from './optim';
export * from './losses';
export * from './checkpoint';
export * from './progress';
export * from './trainer';
export * from './recipes';

/** Every paper's experiments, registered on import. Add a paper's file below. */
import './mlit';
import './mae';
import './mobile-vmoe';
import './dwnet';
import './eit';
export * from './registry';
export * from './types';

/** Every paper's experiments, registered on import. Add a paper's file below. */
import { mainQuickModel as mlit } from './mlit';
import { mainQuickModel as mae } from './mae';
import { mainQuickModel as vmoe } from './mobile-vmoe';
import { mainQuickModel as dwnet } from './dwnet';
import { mainQuickModel as eit } from './eit';
export * from './registry';
export * from './types';
export * from './claims';

/** Each paper's main quick-scale model (name + overrides), in paper order: what `lightvit bench` measures. */
export const MAIN_QUICK_MODELS: ReadonlyArray<{ paper: string; model: string; overrides: Record<string, unknown> }> = [mlit, vmoe, dwnet, eit, mae];

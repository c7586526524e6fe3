import type * as tf from '@tensorflow/tfjs';
import { type Ctx, Module } from '../nn/module';
import { UnknownNameError } from '../util/errors';
import { type BaseConfig, type Choices, applyOverrides } from './config';

/** Every classifier in the kit: NHWC images (normalised floats) → logits [B, numClasses]. */
export abstract class ClassifierModel<C extends BaseConfig = BaseConfig> extends Module {
  /** Registry name it was created under (e.g. 'mlit-xxs'); the family name for direct construction. */
  modelName = '';
  constructor(readonly config: C) {
    super();
  }
  abstract forward(x: tf.Tensor4D, ctx: Ctx): tf.Tensor2D;
  /**
   * Parameters used for one image at inference (MoE models: shared parts + the k chosen experts).
   * Defaults to all trainable parameters.
   */
  activeParamCount(): number {
    return this.paramCount();
  }
}

/** A model family: one architecture (one file under src/models/), its typed defaults and its checks. */
export interface ModelFamily<C extends BaseConfig> {
  family: string;
  /** arXiv id or short citation of the paper the family reproduces ('' for baselines). */
  paper: string;
  defaults: C;
  choices?: Choices<C>;
  /** One-line description of each config key, for `lightvit params --help` and docs. */
  docs?: Partial<Record<keyof C, string>>;
  /** Throws ConfigError naming the values when a config cannot work. */
  validate(c: C, name: string): void;
  create(c: C): ClassifierModel<C>;
  /** An independent closed-form parameter count (tests compare it with the built model). */
  closedFormParams?(c: C): number;
}

export interface RegisteredModel {
  name: string;
  // biome-ignore lint/suspicious/noExplicitAny: one map holds the families of every config type
  family: ModelFamily<any>;
  preset: Record<string, unknown>;
  description: string;
  /** 'test' = tiny variant for tests; 'paper' = a paper's preset (may be too large for CPU). */
  tags: string[];
}

/**
 * Model files register themselves when imported; src/models/index.ts imports them all. Import the registry API from
 * there.
 */
const REGISTRY = new Map<string, RegisteredModel>();

export function registerModel<C extends BaseConfig>(
  name: string,
  family: ModelFamily<C>,
  preset: Partial<C>,
  opts: { description: string; tags?: string[] },
): void {
  if (REGISTRY.has(name)) throw new Error(`model '${name}' registered twice`);
  REGISTRY.set(name, {
    name,
    family,
    preset: preset as Record<string, unknown>,
    description: opts.description,
    tags: opts.tags ?? [],
  });
}

export function listModels(filter?: { tag?: string; family?: string }): RegisteredModel[] {
  return [...REGISTRY.values()].filter(
    (m) => (!filter?.tag || m.tags.includes(filter.tag)) && (!filter?.family || m.family.family === filter.family),
  );
}

export function getModelEntry(name: string): RegisteredModel {
  const m = REGISTRY.get(name);
  if (!m) throw new UnknownNameError('model', name, [...REGISTRY.keys()]);
  return m;
}

/** The full, validated config a name + overrides resolve to. */
export function resolveConfig<C extends BaseConfig = BaseConfig>(
  name: string,
  overrides: Record<string, unknown> = {},
): C {
  const entry = getModelEntry(name);
  const withPreset = applyOverrides(name, entry.family.defaults, entry.preset, entry.family.choices);
  const c = applyOverrides(name, withPreset, overrides, entry.family.choices) as C;
  entry.family.validate(c, name);
  return c;
}

/**
 * createModel('mlit-xxs', { numClasses: 100 }): look up a named variant, apply overrides (typed and validated),
 * and build it with initial weights from `seed`. With `build: false` nothing is allocated (parameter counting).
 */
export function createModel<C extends BaseConfig = BaseConfig>(
  name: string,
  overrides: Record<string, unknown> = {},
  opts: { seed?: number; build?: boolean } = {},
): ClassifierModel<C> {
  const entry = getModelEntry(name);
  const c = resolveConfig<C>(name, overrides);
  const m = entry.family.create(c) as ClassifierModel<C>;
  m.modelName = name;
  if (opts.build !== false) m.build(opts.seed ?? 0);
  return m;
}

export { engineFromEnv, openEngine } from './engineFromEnv.js';
export type { Engine, EngineFromEnvOptions } from './engineFromEnv.js';
export { readEngineConfig, ENGINE_ENV_VARS, DEFAULT_DATA_DIR } from './config.js';
export type {
  EmbeddedEngineConfig,
  EngineConfig,
  EngineKind,
  KafkaEnvSettings,
  KafkaPostgresEngineConfig,
  PostgresEnvSettings,
} from './config.js';
export type { EngineEnv } from './env.js';
export { applySchema } from './schema.js';
export type { ApplySchemaOptions } from './schema.js';
export { invalidSetting, runtimeSettings, selectServices, settingsFrom } from './settings.js';
export { RUNTIME_ENV_VARS } from './runtimeVariables.js';
export type { RetrySettings, RuntimeDefaults, RuntimeSettings, SettingsReader } from './settings.js';

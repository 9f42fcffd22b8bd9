import { hasSagas, HeraldError } from '@herald/core';
import type { SagaDefinition } from './definition.js';
import { SagaErrors } from './errors.js';
import type { SagaState } from './state.js';

/**
 * Reads one instance of a saga as committed (for workflow views, tools and tests), or undefined
 * when nothing of its flow reached the saga yet. Throws `sagas-unavailable` for stores without
 * saga state.
 *
 * @example
 * const saga = await findSaga(app.stores, OrderSaga, orderId);   // saga?.status, saga?.steps
 */
export async function findSaga<Data>(stores: object, saga: SagaDefinition<Data>, instanceId: string): Promise<SagaState<Data> | undefined> {
  if (!hasSagas(stores)) throw new HeraldError(SagaErrors.sagasUnavailable, `findSaga(${saga.name}): the stores have no saga store`);
  const record = await stores.sagas.find(saga.name, instanceId);
  return record?.state as SagaState<Data> | undefined;
}

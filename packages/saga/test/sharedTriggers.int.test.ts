import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp, defineEvent, silentLogger, type App, type EventDefinition, type SqlTx } from '@herald/core';
import { sqliteEngine } from '@herald/sqlite';
import { defineSaga, emit, findSaga, on, registerSaga, sagaEvents, type SagaTrigger } from '../src/index.js';

// Event types that several steps react to, on the embedded engine (real SQLite files): a
// cancellation every step fails on, and an approval each of two steps needs. The event goes to
// the step whose turn it is, not to the first step that names it (long completed, it ignored it).

const byBooking = (d: { bookingId: string }) => d.bookingId;
const Booking = Type.Object({ bookingId: Type.String() });
const BookingRequested = defineEvent({ type: 'BookingRequested', topic: 'bookings', key: byBooking, schema: Booking });
const RoomHeld = defineEvent({ type: 'RoomHeld', topic: 'rooms', key: byBooking, schema: Booking });
const ReleaseRoom = defineEvent({ type: 'ReleaseRoom', topic: 'rooms.commands', key: byBooking, schema: Booking });
const Approved = defineEvent({ type: 'Approved', topic: 'approvals', key: byBooking, schema: Type.Object({ bookingId: Type.String(), by: Type.String() }) });
const BookingCancelled = defineEvent({ type: 'BookingCancelled', topic: 'bookings.cancelled', key: byBooking, schema: Booking });

const cancelled: SagaTrigger<{ bookingId: string }> = on(BookingCancelled, { reason: () => 'CANCELLED' });
const BookingSaga = defineSaga({ name: 'booking', startedBy: BookingRequested, initial: (e) => ({ bookingId: e.data.bookingId }) })
  .step('hold', { completedBy: on(RoomHeld), failedBy: cancelled, compensate: (d) => [emit(ReleaseRoom, d)] })
  .step('manager', { completedBy: on(Approved), failedBy: cancelled })
  .step('director', { completedBy: on(Approved), failedBy: cancelled });

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function bookingApp(): Promise<{ app: App<SqlTx>; released: string[]; handled: Set<string> }> {
  const dataDir = await mkdtemp(join(tmpdir(), 'herald-saga-shared-'));
  cleanups.push(() => rm(dataDir, { recursive: true, force: true }));
  const app = createApp<SqlTx>({ ...sqliteEngine({ dataDir }), logger: silentLogger, relay: { idleMs: 5 }, events: [...sagaEvents(BookingSaga.topic).transitions] });
  registerSaga(app, BookingSaga);
  const released: string[] = [];
  app.on(ReleaseRoom, { group: 'rooms' }, async (event) => void released.push(event.data.bookingId));
  // the saga handler's deliveries that finished (their transactions committed)
  const handled = new Set<string>();
  app.instrumentation.on((fact) => {
    if (fact.kind === 'handled' && fact.group === 'booking-saga') handled.add(fact.eventId);
  });
  cleanups.push(() => app.close());
  await app.start();
  await app.ready();
  return { app, released, handled };
}

async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Publishes one event of the booking's flow and waits until the saga's handler has handled it. */
async function handledBySaga(world: { app: App<SqlTx>; handled: Set<string> }, definition: EventDefinition, data: object, bookingId: string): Promise<void> {
  const { id } = await world.app.publish(definition, data as never, { correlationId: bookingId });
  await until(() => world.handled.has(id), `the saga handling ${definition.type}`);
}

describe('an event type several steps of a saga react to', () => {
  it('a cancellation every step fails on fails the step whose turn it is, and undoes the completed ones', async () => {
    const world = await bookingApp();
    await handledBySaga(world, BookingRequested, { bookingId: 'b-1' }, 'b-1');
    await handledBySaga(world, RoomHeld, { bookingId: 'b-1' }, 'b-1');
    await handledBySaga(world, BookingCancelled, { bookingId: 'b-1' }, 'b-1');
    const saga = await findSaga(world.app.stores, BookingSaga, 'b-1');
    expect(saga?.status).toBe('failed');
    expect(saga?.failure).toEqual({ step: 'manager', reason: 'CANCELLED', timedOut: false });
    expect(saga?.steps.map((s) => `${s.name}:${s.status}`)).toEqual(['hold:compensated', 'manager:failed', 'director:waiting']);
    await until(() => world.released.includes('b-1'), 'the room released');
  });

  it('an approval each of two steps needs completes one step each time', async () => {
    const world = await bookingApp();
    await handledBySaga(world, BookingRequested, { bookingId: 'b-2' }, 'b-2');
    await handledBySaga(world, RoomHeld, { bookingId: 'b-2' }, 'b-2');
    await handledBySaga(world, Approved, { bookingId: 'b-2', by: 'manager' }, 'b-2');
    expect((await findSaga(world.app.stores, BookingSaga, 'b-2'))?.steps.map((s) => s.status)).toEqual(['completed', 'completed', 'active']);
    await handledBySaga(world, Approved, { bookingId: 'b-2', by: 'director' }, 'b-2');
    expect((await findSaga(world.app.stores, BookingSaga, 'b-2'))?.status).toBe('completed');
  });
});

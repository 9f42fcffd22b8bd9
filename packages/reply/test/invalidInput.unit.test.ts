import { createApp, type App } from '@herald/core';
import { memoryBroker, memoryStores, type MemoryTx } from '@herald/testing';
import { describe, expect, it } from 'vitest';
import { createEventWaiter, createRequester, defineRequest, replier } from '../src/index.js';
import { GetProfile, ProfileRequested, ProfileReturned } from './scenario.js';

// What plain JavaScript callers pass: every factory and call of the package refuses bad input with
// `invalid-options` naming the argument, what it got and the valid form (as the core's createApp,
// app.on and app.publish do), never a TypeError, and never a misspelt option silently ignored.
// Nothing here is started: the checks come before any reading or sending.

/** `anything` typed as whatever the call takes: the calls below are what an untyped caller writes. */
const js = (anything: unknown) => anything as never;

const app = (): App<MemoryTx> => createApp<MemoryTx>({ broker: memoryBroker(), stores: memoryStores(), relay: false });

/** What `work` threw (or rejected with). */
async function thrown(work: () => unknown): Promise<unknown> {
  try {
    await work();
  } catch (error) {
    return error;
  }
  return 'nothing thrown';
}

async function expectRefused(work: () => unknown, message: string): Promise<void> {
  const error = await thrown(work);
  expect(error).toMatchObject({ code: 'invalid-options', message });
}

describe('createEventWaiter refuses bad options', () => {
  it('names the argument and what it got, for a missing options object, a missing app or events and a wrong entry', async () => {
    const a = app();
    await expectRefused(() => createEventWaiter(js(undefined)), 'createEventWaiter: expected an options object such as { app, events: [OrderStatusUpdated] }, got undefined');
    await expectRefused(() => createEventWaiter(js({ app: a, events: undefined })), 'createEventWaiter: events: expected an array of at least one event definition (defineEvent), got undefined');
    await expectRefused(() => createEventWaiter(js({ app: a, events: ProfileReturned })), expect.stringMatching(/^createEventWaiter: events: expected an array .*, got an object with keys/) as never);
    await expectRefused(() => createEventWaiter(js({ app: a, events: ['ProfileReturned'] })), 'createEventWaiter: events[0]: expected an event definition from defineEvent(), got a string ("ProfileReturned")');
    await expectRefused(() => createEventWaiter(js({ events: [ProfileReturned] })), 'createEventWaiter: app: expected a Herald app (createApp), got undefined');
    await expectRefused(() => createEventWaiter(js({ app: a, events: [ProfileReturned], instanceId: 7 })), "createEventWaiter: instanceId: expected 1 to 100 letters, digits, '.', '_' or '-', got a number (7)");
  });

  it('refuses an unknown option, suggesting the closest known one', async () => {
    await expectRefused(() => createEventWaiter(js({ app: app(), events: [ProfileReturned], instanceid: 'gateway-1' })), 'createEventWaiter: unknown option "instanceid" (did you mean "instanceId"?)');
    await expectRefused(() => createEventWaiter(js({ app: app(), events: [ProfileReturned], replicas: 2 })), 'createEventWaiter: unknown option "replicas" (the options are app, events, instanceId)');
  });

  it("refuses expect()'s bad arguments before registering a wait", async () => {
    const waiter = createEventWaiter({ app: app(), events: [ProfileReturned], instanceId: 'gateway-1' });
    await expectRefused(() => waiter.expect(js(42), { timeoutMs: 100 }), 'waiter.expect: correlationId: expected a non-empty string, got a number (42)');
    await expectRefused(() => waiter.expect('c-1', js(undefined)), 'waiter.expect: options: expected an options object such as { timeoutMs: 5_000 }, got undefined');
    await expectRefused(() => waiter.expect('c-1', js(5_000)), 'waiter.expect: options: expected an options object such as { timeoutMs: 5_000 }, got a number (5000)');
    await expectRefused(() => waiter.expect('c-1', js({ timeout: 100 })), 'waiter.expect: options: unknown option "timeout" (did you mean "timeoutMs"?)');
    await expectRefused(() => waiter.expect('c-1', js({ timeoutMs: '100' })), 'waiter.expect: options: timeoutMs must be a positive number of ms, got a string ("100")');
    // an until that is no function threw at each event, so every wait ended empty
    await expectRefused(() => waiter.expect('c-1', js({ timeoutMs: 100, until: 'PAID' })), 'waiter.expect: options.until: expected a function (event) => boolean, got a string ("PAID")');
    expect(waiter.pending).toBe(0);
    // good arguments pass the checks: the unstarted waiter then says so
    expect(await thrown(() => waiter.expect('c-1', { timeoutMs: 100, until: () => true }))).toMatchObject({ code: 'waiter-not-started' });
  });
});

describe('createRequester refuses bad options', () => {
  it('names the argument and what it got', async () => {
    const a = app();
    await expectRefused(() => createRequester(js(undefined)), 'createRequester: expected an options object such as { app, requests: [GetProfile] }, got undefined');
    await expectRefused(() => createRequester(js({ requests: [GetProfile] })), 'createRequester: app: expected a Herald app (createApp), got undefined');
    await expectRefused(() => createRequester(js({ app: a, requests: GetProfile })), 'createRequester: requests: expected an array of at least one request definition (defineRequest), got an object with keys request, reply');
    await expectRefused(() => createRequester(js({ app: a, requests: ['GetProfile'] })), 'createRequester: requests[0]: expected a request definition from defineRequest(), got a string ("GetProfile")');
    await expectRefused(() => createRequester(js({ app: a, requests: [{ request: ProfileRequested, reply: 'ProfileReturned' }] })), 'createRequester: requests[0].reply: expected an event definition from defineEvent(), got a string ("ProfileReturned")');
    await expectRefused(() => createRequester(js({ app: a, requests: [GetProfile], defaultTimeoutMs: '5000' })), 'createRequester: defaultTimeoutMs must be a positive integer of ms, got a string ("5000")');
    await expectRefused(() => createRequester(js({ app: a, requests: [GetProfile], name: 'my service' })), `createRequester: name: expected letters, digits, '.', '_' or '-' (it prefixes the instance id), got a string ("my service")`);
  });

  it('refuses an instance id that is not a string at construction', async () => {
    // a number passed the pattern as its text: the requester started, and each request then failed
    // at publish on a header its caller never set (herald-reply-to must be a string)
    await expectRefused(() => createRequester(js({ app: app(), requests: [GetProfile], instanceId: 42 })), "createRequester: instanceId: expected 1-180 letters, digits, '.', '_' or '-', got a number (42)");
  });

  it('refuses an unknown option, suggesting the closest known one', async () => {
    await expectRefused(() => createRequester(js({ app: app(), requests: [GetProfile], defaultTimeout: 5_000 })), 'createRequester: unknown option "defaultTimeout" (did you mean "defaultTimeoutMs"?)');
  });

  it("refuses request()'s bad arguments before anything is sent", async () => {
    const requester = createRequester({ app: app(), requests: [GetProfile], instanceId: 'notifier-1' });
    const data = { userId: 'u', from: 'x' };
    await expectRefused(() => requester.request(js(undefined), data), 'requester.request: definition: expected a request definition from defineRequest(), got undefined');
    await expectRefused(() => requester.request(js(ProfileRequested), data), 'requester.request: definition.request: expected an event definition from defineEvent(), got undefined');
    // a number where the options go, and a misspelt timeout, ran with the default 30 s
    await expectRefused(() => requester.request(GetProfile, data, js(5_000)), 'requester.request: options: expected an options object such as { timeoutMs: 5_000 }, got a number (5000)');
    await expectRefused(() => requester.request(GetProfile, data, js({ timeout: 5_000 })), 'requester.request: options: unknown option "timeout" (did you mean "timeoutMs"?)');
    await expectRefused(() => requester.request(GetProfile, data, js({ timeoutMs: '5000' })), 'requester.request: options: timeoutMs must be a positive integer of ms, got a string ("5000")');
    await expectRefused(() => requester.request(GetProfile, data, js({ signal: 'stop' })), 'requester.request: options.signal: expected an AbortSignal, got a string ("stop")');
    // a string's characters were spread in as headers named 0, 1, ...
    await expectRefused(() => requester.request(GetProfile, data, js({ headers: 'x-tenant' })), 'requester.request: options.headers: expected an object of string names and string values, got a string ("x-tenant")');
    await expectRefused(() => requester.request(GetProfile, data, js({ correlationId: 7 })), 'requester.request: options.correlationId: expected a non-empty string, got a number (7)');
    await expectRefused(() => requester.request(GetProfile, data, js({ cause: 'evt-1' })), 'requester.request: options.cause: expected the envelope being handled (a handler\'s event), got a string ("evt-1")');
    expect(requester.pending).toBe(0);
    // good arguments pass the checks (an option given as undefined is left out): the unstarted requester then says so
    const good = { timeoutMs: undefined, signal: new AbortController().signal, headers: { 'x-tenant': 't-1' }, correlationId: 'c-1' };
    expect(await thrown(() => requester.request(GetProfile, data, good))).toMatchObject({ code: 'requester-not-started' });
  });
});

describe('defineRequest and replier refuse bad arguments', () => {
  it('defineRequest names what it got', async () => {
    await expectRefused(() => defineRequest(js(undefined)), 'defineRequest: expected an options object such as { request: ProfileRequested, reply: ProfileReturned }, got undefined');
    // two strings went to the same (undefined) topic: the error spoke of topics
    await expectRefused(() => defineRequest(js({ request: 'ProfileRequested', reply: 'ProfileReturned' })), 'defineRequest: request: expected an event definition from defineEvent(), got a string ("ProfileRequested")');
    await expectRefused(() => defineRequest(js({ request: ProfileRequested, response: ProfileReturned })), 'defineRequest: unknown option "response" (the options are request, reply)');
  });

  it('replier refuses at construction what would fail every request at run time', async () => {
    await expectRefused(() => replier(js(undefined), async () => ({})), 'replier: definition: expected a request definition from defineRequest(), got undefined');
    await expectRefused(() => replier(GetProfile, js(undefined)), 'replier: answer: expected a function (request, ctx) => reply data, got undefined');
    await expectRefused(() => replier(GetProfile, async () => js({}), js({ clockSkewAllowance: 500 })), 'replier: options: unknown option "clockSkewAllowance" (did you mean "clockSkewAllowanceMs"?)');
    await expectRefused(() => replier(GetProfile, async () => js({}), { clockSkewAllowanceMs: -1 }), 'replier: options.clockSkewAllowanceMs must be a number of ms, 0 or more, got a number (-1)');
  });
});

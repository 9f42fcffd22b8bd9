import type { App, Envelope, Middleware, SqlTx } from '@herald/core';
import type { Requester } from '@herald/reply';
import { GetProfile, GROUPS, NotificationRequested, NotificationSent, OrderStatusUpdated, UserRegistered, type FinalStatus } from '../events.js';

/** Options of {@link registerNotificationService}. */
export interface NotificationServiceOptions {
  /** Asks the user service for profiles (its reply group is this instance's own). */
  readonly requester: Requester;
  /** How long to wait for a profile; past it the delivery fails retriably and is retried. */
  readonly profileTimeoutMs: number;
  readonly maybeFail: (where: string) => void;
}

const ORDER_MESSAGES: Record<FinalStatus, { type: `ORDER_${FinalStatus}`; subject: string; content: (total: string) => string }> = {
  PAID: { type: 'ORDER_PAID', subject: 'Your order is paid', content: (total) => `We received your payment of ${total}. Your order is on its way.` },
  INSUFFICIENT_FUNDS: {
    type: 'ORDER_INSUFFICIENT_FUNDS',
    subject: 'Your order could not be paid',
    content: (total) => `Your balance does not cover ${total}. Top it up and order again.`,
  },
  PAYMENT_TIMEOUT: {
    type: 'ORDER_PAYMENT_TIMEOUT',
    subject: 'Your order timed out',
    content: (total) => `We could not take your payment of ${total} in time. Anything charged later is refunded.`,
  },
  REJECTED: {
    type: 'ORDER_REJECTED',
    subject: 'Your order was not accepted',
    content: (total) => `Your order of ${total} could not be accepted as placed (see the order for why). Nothing was charged.`,
  },
  FAILED: {
    type: 'ORDER_FAILED',
    subject: 'Your order could not be processed',
    content: (total) => `We could not process your order of ${total}. You pay nothing for it (anything taken is given back): please order again.`,
  },
};

/** Whether an event names a user (a REJECTED order may not: the order rules require one). */
const hasOwner = (username: string) => /\S/.test(username);

const money = (totalCents: number) => `${Math.floor(totalCents / 100)}.${String(totalCents % 100).padStart(2, '0')}`;

/**
 * notification (seed 004's mini_notif, the requester half): for each final OrderStatusUpdated
 * (REJECTED and FAILED too: the user learns that they pay nothing) it asks the user service for the
 * user's contact over `users.profile` (request/reply), then requests the notification; an order
 * without an owner (rejected for it) notifies nobody. For each UserRegistered it requests a
 * welcome (the contact is in the event). The profile is fetched before the handler's transaction
 * opens (a transaction held while waiting for another service would hold the store), unless the
 * inbox already has the event (a redelivery); a timeout fails the attempt retriably. Notification
 * ids are derived from what they are about, so one order status gets one notification whatever
 * is redelivered.
 */
export function registerNotificationService(app: App<SqlTx>, options: NotificationServiceOptions): void {
  const contacts = new WeakMap<Envelope, string>();
  const fetchContact: Middleware<SqlTx> = (next) =>
    async function fetchContact(event, ctx) {
      // a redelivery of a status this group already notified about (a relay's lost ack) needs no
      // profile: the transaction's inbox check drops it as a duplicate, even while the user
      // service is down
      const { username } = event.data as { username: string };
      const marks = await app.stores.inbox.findHandled([event.id]);
      if (hasOwner(username) && !marks.some((mark) => mark.group === ctx.group)) {
        const reply = await options.requester.request(GetProfile, { username }, { timeoutMs: options.profileTimeoutMs, cause: event });
        contacts.set(event, reply.data.email);
      }
      await next(event, ctx);
    };

  // the inbox forgot the mark between the middleware's look and the transaction's (its retention):
  // fail the attempt, and the retry fetches the profile
  const contactOf = (event: Envelope): string => {
    const email = contacts.get(event);
    if (email === undefined) throw new Error(`no profile fetched for ${event.type} ${event.id}`);
    return email;
  };

  app.on(OrderStatusUpdated, { group: GROUPS.notification, middleware: [fetchContact] }, async (event, ctx) => {
    const { requestId, orderId, username, status, totalCents } = event.data;
    // an order rejected for having no owner (another producer's request): nobody to tell, and no
    // profile to wait for
    if (!hasOwner(username)) return;
    const message = ORDER_MESSAGES[status];
    await ctx.publish(NotificationRequested, {
      notificationId: `order-${orderId}-${status}`,
      requestId,
      orderId,
      username,
      email: contactOf(event),
      type: message.type,
      subject: message.subject,
      content: message.content(money(totalCents)),
      metadata: { status },
      scheduledAt: app.clock.now(),
    });
    options.maybeFail(ctx.handler);
  });

  app.on(UserRegistered, { group: GROUPS.notification }, async (event, ctx) => {
    const { username, email } = event.data;
    await ctx.publish(NotificationRequested, {
      notificationId: `welcome-${username}`,
      requestId: null,
      orderId: null,
      username,
      email,
      type: 'WELCOME',
      subject: 'Welcome',
      content: `Hello ${username}, your account is ready.`,
      metadata: {},
      scheduledAt: app.clock.now(),
    });
    options.maybeFail(ctx.handler);
  });
}

/**
 * notification sender: delivers each NotificationRequested to the user's inbox (the notifications
 * table behind GET /notifications; one row per notification id) and publishes NotificationSent.
 */
export function registerSenderService(app: App<SqlTx>, options: { readonly maybeFail: (where: string) => void }): void {
  app.on(NotificationRequested, { group: GROUPS.sender }, async (event, ctx) => {
    const n = event.data;
    const sentAt = app.clock.now();
    const delivered = await ctx.tx.execute(
      `INSERT INTO notifications (notification_id, username, email, type, subject, content, order_id, request_id, sent_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (notification_id) DO NOTHING`,
      [n.notificationId, n.username, n.email, n.type, n.subject, n.content, n.orderId, n.requestId, sentAt],
    );
    if (delivered === 1) {
      await ctx.publish(NotificationSent, { notificationId: n.notificationId, username: n.username, type: n.type, channel: 'inbox', sentAt });
      ctx.logger.info('notification sent', { notificationId: n.notificationId, username: n.username, type: n.type });
    }
    options.maybeFail(ctx.handler);
  });
}

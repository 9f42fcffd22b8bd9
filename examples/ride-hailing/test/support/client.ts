import { eventually } from '@herald/testing';

/** One answer of the API as the tests read it. */
export interface Reply<T = Record<string, unknown>> {
  readonly status: number;
  readonly contentType: string | null;
  readonly body: T;
}

/** A booking as `GET /bookings/{id}` shows it. */
export interface BookingView {
  readonly bookingId: string;
  readonly status: 'PENDING' | 'CONFIRMED' | 'CANCELLED' | 'COMPLETED';
  readonly priceCents: number | null;
  readonly surgeMultiplier: number | null;
  readonly driverId: string | null;
  readonly reason: string | null;
}

let keys = 0;

/** A client of the ride-hailing API at `baseUrl`; commands get a fresh Idempotency-Key unless told otherwise. */
export class RideApi {
  constructor(public baseUrl: string) {}

  async call<T = Record<string, unknown>>(method: string, path: string, options: { body?: unknown; key?: string | null } = {}): Promise<Reply<T>> {
    const headers: Record<string, string> = {};
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (method !== 'GET' && options.key !== null) headers['idempotency-key'] = options.key ?? `k-${process.pid}-${++keys}`;
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers,
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await response.text();
    return { status: response.status, contentType: response.headers.get('content-type'), body: (text ? JSON.parse(text) : {}) as T };
  }

  /** A call that must succeed (2xx); returns its body. */
  async ok<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
    const reply = await this.call<T>(method, path, { body });
    if (reply.status >= 300) throw new Error(`${method} ${path}: ${reply.status} ${JSON.stringify(reply.body)}`);
    return reply.body;
  }

  async rider(balanceCents: number): Promise<string> {
    return (await this.ok<{ riderId: string }>('POST', '/riders', { balanceCents })).riderId;
  }

  /** A driver of `regionId`, online. */
  async driver(regionId: string): Promise<string> {
    const { driverId } = await this.ok<{ driverId: string }>('POST', '/drivers', { regionId });
    await this.ok('POST', `/drivers/${driverId}/status`, { status: 'online' });
    return driverId;
  }

  async book(riderId: string, regionId: string, distanceKm: number): Promise<string> {
    return (await this.ok<{ bookingId: string }>('POST', '/bookings', { riderId, regionId, distanceKm })).bookingId;
  }

  /** Waits until the booking is out of PENDING, and returns it. */
  async settled(bookingId: string, timeoutMs = 30_000): Promise<BookingView> {
    return eventually(async () => {
      const booking = await this.ok<BookingView>('GET', `/bookings/${bookingId}`);
      return booking.status === 'PENDING' ? undefined : booking;
    }, timeoutMs, `booking ${bookingId} settled`);
  }

  async notifications(riderId: string): Promise<{ notificationId: string; type: string; text: string }[]> {
    return (await this.ok<{ notifications: { notificationId: string; type: string; text: string }[] }>('GET', `/riders/${riderId}/notifications`)).notifications;
  }
}

export { eventually, pool, sleep } from '@herald/testing';

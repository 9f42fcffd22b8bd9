import { HeraldError } from '@herald/core';
import type { App, SqlTx } from '@herald/core';
import { replier } from '@herald/reply';
import { GetProfile, GROUPS, UserRegistered } from '../events.js';

/** The profile asked for does not exist (yet: UserRegistered may still be on its way). Retriable. */
export const PROFILE_NOT_FOUND = 'profile-not-found';

/**
 * user (seed 004's mini_user): creates a profile for each UserRegistered, and answers profile
 * requests on `users.profile` with a reply on `users.profile.response`, published in the handler's
 * transaction. A request for a profile not created yet fails retriably: the retry finds it once
 * the registration arrived.
 */
export function registerUserService(app: App<SqlTx>, options: { readonly maybeFail: (where: string) => void }): void {
  app.on(UserRegistered, { group: GROUPS.user }, async (event, ctx) => {
    const { username, email, registeredAt } = event.data;
    await ctx.tx.execute('INSERT INTO user_profiles (username, email, registered_at) VALUES ($1, $2, $3) ON CONFLICT (username) DO NOTHING', [username, email, registeredAt]);
    options.maybeFail(ctx.handler);
  });

  app.on(
    GetProfile.request,
    { group: GROUPS.user },
    replier(GetProfile, async (request, ctx) => {
      const [row] = await ctx.tx.query<{ email: string; registered_at: number }>('SELECT email, registered_at FROM user_profiles WHERE username = $1', [request.data.username]);
      if (!row) throw new HeraldError(PROFILE_NOT_FOUND, `no profile for ${request.data.username} yet`, { retriable: true });
      return { username: request.data.username, email: row.email, registeredAt: row.registered_at };
    }),
  );
}

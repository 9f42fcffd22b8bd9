import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runTool } from '../../packages/metrics/test/support/tools.js';
import { DEPLOY } from './promql.js';

const CONFIG = join(DEPLOY, 'alertmanager', 'alertmanager.yml');
const RENDER = join(DEPLOY, 'alertmanager', 'render-config.sh');
const PLACEHOLDER = 'TELEGRAM_BOT_TOKEN_PLACEHOLDER';

/** Runs render-config.sh as the container's entrypoint does (without starting Alertmanager). */
function render(output: string, env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile('sh', [RENDER, CONFIG, output], { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...env } }, (error, _stdout, stderr) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stderr }),
    );
  });
}

describe('deploy/alertmanager', () => {
  const scratch = mkdtempSync(join(tmpdir(), 'herald-alertmanager-'));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('alertmanager.yml passes amtool check-config, with e-mail and Telegram receivers', async () => {
    const result = await runTool('amtool', ['check-config', CONFIG]);
    expect({ code: result.code, out: result.stdout }).toEqual({ code: 0, out: expect.stringContaining('SUCCESS') });
    const text = readFileSync(CONFIG, 'utf8');
    expect(text).toMatch(/email_configs:\n\s+- to: \S+@\S+/);
    expect(text).toMatch(/telegram_configs:\n\s+- bot_token: "TELEGRAM_BOT_TOKEN_PLACEHOLDER"\n/);
  });

  it('holds no secret: the SMTP password comes from a file, the bot token is a placeholder', () => {
    const text = readFileSync(CONFIG, 'utf8');
    expect(text).toMatch(/smtp_auth_password_file: \/run\/secrets\/alertmanager\/smtp_password\n/);
    expect(text).not.toMatch(/smtp_auth_password:/);
    expect(text.match(/bot_token:.*/g)).toEqual([`bot_token: "${PLACEHOLDER}"`]);
  });

  it('render-config.sh fills in the bot token from a file or the environment, and the result passes amtool', async () => {
    const tokenFile = join(scratch, 'telegram_bot_token');
    writeFileSync(tokenFile, '123456789:AAH-file_token\n');
    const fromFile = join(scratch, 'from-file.yml');
    expect(await render(fromFile, { TELEGRAM_BOT_TOKEN_FILE: tokenFile, TELEGRAM_BOT_TOKEN: '1:ignored' })).toEqual({ code: 0, stderr: '' });
    expect(readFileSync(fromFile, 'utf8')).toContain('bot_token: "123456789:AAH-file_token"');
    expect((await runTool('amtool', ['check-config', fromFile])).code).toBe(0);

    const fromEnv = join(scratch, 'from-env.yml');
    expect((await render(fromEnv, { TELEGRAM_BOT_TOKEN_FILE: join(scratch, 'absent'), TELEGRAM_BOT_TOKEN: '42:env-token' })).code).toBe(0);
    expect(readFileSync(fromEnv, 'utf8')).toContain('bot_token: "42:env-token"');
    // everything else is the file as checked
    expect(readFileSync(fromEnv, 'utf8').replace('42:env-token', PLACEHOLDER)).toBe(readFileSync(CONFIG, 'utf8'));
  });

  it('render-config.sh says when no token is given, and refuses one that could corrupt the file', async () => {
    const none = await render(join(scratch, 'none.yml'), {});
    expect(none.code).toBe(0);
    expect(none.stderr).toMatch(/no Telegram bot token/);
    expect(readFileSync(join(scratch, 'none.yml'), 'utf8')).toContain(PLACEHOLDER);
    const bad = await render(join(scratch, 'bad.yml'), { TELEGRAM_BOT_TOKEN: '1:abc"\nglobal: {}' });
    expect(bad).toEqual({ code: 1, stderr: expect.stringMatching(/characters a bot token never has/) });
  });

  it('amtool check-config can fail: a route to a receiver that does not exist is refused', async () => {
    const broken = join(scratch, 'broken.yml');
    writeFileSync(broken, 'route:\n  receiver: nobody\nreceivers:\n  - name: team\n');
    const result = await runTool('amtool', ['check-config', broken]);
    expect(result.code).not.toBe(0);
    expect(result.stdout + result.stderr).toMatch(/nobody/);
  });
});

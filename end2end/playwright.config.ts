import { defineConfig } from '@playwright/test';
import {
  PORTCULLIS, HOST_PORT, DEMO_PORT, ADMIN_TOKEN, SMTP_PORT, MAILDIR,
  NODE_A, NODE_B, NODES_DATABASE, NODES_MASTER_KEY, POLICY_ORG, POLICY_ORG_FACTORS, PASSKEY_ORG,
} from './tests/fixtures/env';

const bin = process.env.PORTCULLIS_BIN ?? '../target/debug/portcullis';
const siteDir = process.env.PORTCULLIS_SITE_DIR ?? '../target/site';
const python = process.env.PORTCULLIS_TEST_PYTHON ?? 'python3';

/** One of two nodes sharing `NODES_DATABASE`: the issuer is node A's address on both, as
 *  behind a load balancer; each has a data directory of its own. */
function node(name: string, url: string) {
  return {
    command: `rm -rf .data/${name} && exec "${bin}"`,
    url: `${url}/readyz`,
    reuseExistingServer: false,
    timeout: 60_000,
    env: {
      PORTCULLIS_LISTEN: new URL(url).host,
      PORTCULLIS_BASE_URL: NODE_A,
      PORTCULLIS_DATABASE_URL: NODES_DATABASE ?? '',
      PORTCULLIS_MASTER_KEY: NODES_MASTER_KEY,
      PORTCULLIS_DATA_DIR: `.data/${name}`,
      PORTCULLIS_SITE_DIR: siteDir,
      PORTCULLIS_BOOTSTRAP_API_TOKEN: ADMIN_TOKEN,
      PORTCULLIS_DEMO: '0',
      PORTCULLIS_LOG: 'warn',
      PORTCULLIS_RATE_LIMIT_PER_IP: '100000',
    },
  };
}
const nodes = NODES_DATABASE ? [node('node-a', NODE_A), node('node-b', NODE_B)] : [];

export default defineConfig({
  testDir: './tests',
  timeout: 30_000,
  expect: { timeout: 10_000 },
  workers: 2,
  forbidOnly: !!process.env.CI,
  reporter: [['list'], ['html', { open: 'never' }]],
  globalSetup: './tests/fixtures/global-setup.ts',
  use: {
    baseURL: PORTCULLIS,
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ],
    },
  },
  projects: [{ name: 'chromium', use: { browserName: 'chromium' } }],
  webServer: [
    {
      // A real SMTP server; the specs read what Portcullis sends from its maildir.
      command: `mkdir -p .data && rm -rf ${MAILDIR} && exec ${python} -m aiosmtpd -n -l 127.0.0.1:${SMTP_PORT} -c aiosmtpd.handlers.Mailbox ${MAILDIR}`,
      port: SMTP_PORT,
      reuseExistingServer: false,
      timeout: 30_000,
    },
    {
      // A fresh store each run; the demo org is seeded so the demo page is tested too.
      command: `rm -rf .data/e2e && exec "${bin}"`,
      url: `${PORTCULLIS}/login`,
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: 'pipe',
      env: {
        PORTCULLIS_LISTEN: new URL(PORTCULLIS).host,
        PORTCULLIS_BASE_URL: PORTCULLIS,
        PORTCULLIS_DATA_DIR: '.data/e2e',
        PORTCULLIS_SITE_DIR: siteDir,
        PORTCULLIS_BOOTSTRAP_API_TOKEN: ADMIN_TOKEN,
        PORTCULLIS_DEMO: '1',
        PORTCULLIS_DEMO_LISTEN: `127.0.0.1:${DEMO_PORT}`,
        PORTCULLIS_LOG: 'warn',
        // Every spec comes from 127.0.0.1: lift the per-address limit for the run.
        PORTCULLIS_RATE_LIMIT_PER_IP: '100000',
        PORTCULLIS_SMTP_HOST: '127.0.0.1',
        PORTCULLIS_SMTP_PORT: String(SMTP_PORT),
        PORTCULLIS_SMTP_SECURITY: 'none',
        PORTCULLIS_SMTP_FROM: 'Portcullis <no-reply@portcullis.test>',
        // Sign-up is on here (off by default), asking one attribute beside the names.
        PORTCULLIS_SELF_SERVICE_REGISTRATION: '1',
        PORTCULLIS_REGISTRATION_ATTRIBUTES: 'department',
      },
    },
    {
      // The org with a per-factor MFA enrollment policy, for Okta's own widget.
      command: `rm -rf .data/policy-org && exec "${bin}"`,
      url: `${POLICY_ORG}/readyz`,
      reuseExistingServer: false,
      timeout: 60_000,
      env: {
        PORTCULLIS_LISTEN: new URL(POLICY_ORG).host,
        PORTCULLIS_BASE_URL: POLICY_ORG,
        PORTCULLIS_DATA_DIR: '.data/policy-org',
        PORTCULLIS_SITE_DIR: siteDir,
        PORTCULLIS_BOOTSTRAP_API_TOKEN: ADMIN_TOKEN,
        PORTCULLIS_DEMO: '0',
        PORTCULLIS_LOG: 'warn',
        PORTCULLIS_RATE_LIMIT_PER_IP: '100000',
        PORTCULLIS_MFA_FACTORS: POLICY_ORG_FACTORS,
      },
    },
    {
      // The org for passkeys: MFA required, on a domain so that browsers allow WebAuthn.
      command: `rm -rf .data/passkey-org && exec "${bin}"`,
      url: `${PASSKEY_ORG}/readyz`,
      reuseExistingServer: false,
      timeout: 60_000,
      env: {
        PORTCULLIS_LISTEN: '127.0.0.1:3930',
        PORTCULLIS_BASE_URL: PASSKEY_ORG,
        PORTCULLIS_DATA_DIR: '.data/passkey-org',
        PORTCULLIS_SITE_DIR: siteDir,
        PORTCULLIS_BOOTSTRAP_API_TOKEN: ADMIN_TOKEN,
        PORTCULLIS_DEMO: '0',
        PORTCULLIS_LOG: 'warn',
        PORTCULLIS_RATE_LIMIT_PER_IP: '100000',
        PORTCULLIS_MFA_ENROLLMENT: 'required',
      },
    },
    {
      // Host pages that embed the widget, on another origin than the server.
      command: `node host/serve.mjs ${HOST_PORT}`,
      url: `http://localhost:${HOST_PORT}/`,
      reuseExistingServer: false,
      timeout: 30_000,
    },
    ...nodes,
  ],
});

import { test, expect } from '@playwright/test';
import { createUser } from './fixtures/users';
import { totp, currentStep } from './fixtures/totp';
import { PORTCULLIS, HOST } from './fixtures/env';
import { failOnPageErrors } from './fixtures/pages';
import { waitForLinkToken } from './fixtures/mail';

test.describe('@okta/okta-auth-js (unmodified) against Portcullis', () => {
  test('signInWithCredentials with TOTP enrollment, resume, then TOTP verification', async ({ page }) => {
    const noErrors = failOnPageErrors(page);
    const user = await createUser('oktajs');
    await page.goto(`${HOST}/okta-auth-js.html?baseUrl=${encodeURIComponent(PORTCULLIS)}`);
    await page.waitForFunction(() => !!(window as any).authClient);

    // Primary auth asking to be offered optional factors; enroll Google Authenticator.
    const enrolling = await page.evaluate(async ({ username, password }) => {
      const auth = (window as any).authClient;
      let tx = await auth.signInWithCredentials({ username, password, options: { multiOptionalFactorEnroll: true } });
      const statuses = [tx.status];
      const factor = tx.factors.find((f: any) => f.factorType === 'token:software:totp' && f.provider === 'GOOGLE');
      tx = await factor.enroll();
      statuses.push(tx.status);
      const exists = auth.tx.exists();
      tx = await auth.tx.resume();
      statuses.push(tx.status);
      (window as any).tx = tx;
      const activation = tx.factor.activation;
      return { statuses, exists, secret: activation.sharedSecret, qr: activation.qrcode.href };
    }, { username: user.login, password: user.password });
    expect(enrolling.statuses).toEqual(['MFA_ENROLL', 'MFA_ENROLL_ACTIVATE', 'MFA_ENROLL_ACTIVATE']);
    expect(enrolling.exists).toBe(true);

    // The QR code is an image the page can show.
    const qrWidth = await page.evaluate((src) => new Promise<number>((resolve) => {
      const img = new Image();
      img.onload = () => resolve(img.naturalWidth);
      img.onerror = () => resolve(-1);
      img.src = src;
    }), enrolling.qr);
    expect(qrWidth).toBeGreaterThan(100);

    // Activate with the code an authenticator app would show; skip the other optional factors.
    const step = currentStep();
    const done = await page.evaluate(async (passCode) => {
      let tx = await (window as any).tx.activate({ passCode });
      const statuses = [tx.status];
      tx = await tx.skip();
      statuses.push(tx.status);
      return { statuses, sessionToken: tx.sessionToken, login: tx.user.profile.login };
    }, totp(enrolling.secret, step));
    expect(done.statuses).toEqual(['MFA_ENROLL', 'SUCCESS']);
    expect(done.sessionToken.length).toBeGreaterThan(30);
    expect(done.login).toBe(user.login);

    // Next sign-in: MFA_REQUIRED; a wrong code is an AuthApiError, the next code succeeds.
    const verified = await page.evaluate(async ({ username, password, passCode }) => {
      const auth = (window as any).authClient;
      let tx = await auth.signInWithCredentials({ username, password });
      const statuses = [tx.status];
      const factor = tx.factors[0];
      let wrong = null;
      try {
        await factor.verify({ passCode: '000000' });
      } catch (e: any) {
        wrong = { name: e.name, errorCode: e.errorCode };
      }
      tx = await factor.verify({ passCode });
      statuses.push(tx.status);
      return { statuses, wrong, factorType: factor.factorType, sessionToken: tx.sessionToken };
    }, { username: user.login, password: user.password, passCode: totp(enrolling.secret, step + 1) });
    expect(verified.statuses).toEqual(['MFA_REQUIRED', 'SUCCESS']);
    expect(verified.factorType).toBe('token:software:totp');
    expect(verified.wrong).toEqual({ name: 'AuthApiError', errorCode: 'E0000068' });
    expect(verified.sessionToken.length).toBeGreaterThan(30);
    noErrors();
  });

  test('a wrong password is an AuthApiError E0000004, and cancel ends a transaction', async ({ page }) => {
    const user = await createUser('oktajs-bad');
    await page.goto(`${HOST}/okta-auth-js.html?baseUrl=${encodeURIComponent(PORTCULLIS)}`);
    await page.waitForFunction(() => !!(window as any).authClient);
    const result = await page.evaluate(async ({ username, password }) => {
      const auth = (window as any).authClient;
      let bad = null;
      try {
        await auth.signInWithCredentials({ username, password: 'Not-The-Password-1' });
      } catch (e: any) {
        bad = { name: e.name, errorCode: e.errorCode, summary: e.errorSummary };
      }
      const tx = await auth.signInWithCredentials({ username, password, options: { multiOptionalFactorEnroll: true } });
      const before = tx.status;
      await tx.cancel();
      let resumed = null;
      try {
        await auth.tx.resume({ stateToken: tx.data.stateToken });
      } catch (e: any) {
        resumed = e.errorCode;
      }
      return { bad, before, resumed };
    }, { username: user.login, password: user.password });
    expect(result.bad).toEqual({ name: 'AuthApiError', errorCode: 'E0000004', summary: 'Authentication failed' });
    expect(result.before).toBe('MFA_ENROLL');
    expect(result.resumed).toBe('E0000011');
  });
});

test.describe('@okta/okta-auth-js password recovery by email', () => {
  test('forgotPassword, the emailed link, verifyRecoveryToken, resetPassword, sign in', async ({ page }) => {
    const user = await createUser('oktajs-recovery');
    await page.goto(`${HOST}/okta-auth-js.html?baseUrl=${encodeURIComponent(PORTCULLIS)}`);
    await page.waitForFunction(() => !!(window as any).authClient);

    const challenge = await page.evaluate(async (username) => {
      const tx = await (window as any).authClient.forgotPassword({ username, factorType: 'EMAIL' });
      return { status: tx.status, factorResult: tx.factorResult, recoveryType: tx.recoveryType };
    }, user.login);
    expect(challenge).toEqual({ status: 'RECOVERY_CHALLENGE', factorResult: 'WAITING', recoveryType: 'PASSWORD' });

    const recoveryToken = await waitForLinkToken(user.login, '/signin/reset-password/');
    const newPassword = 'Fresh-Start-2027';
    const result = await page.evaluate(async ({ recoveryToken, newPassword, username }) => {
      const auth = (window as any).authClient;
      let tx = await auth.verifyRecoveryToken({ recoveryToken });
      const statuses = [tx.status];
      tx = await tx.resetPassword({ newPassword });
      statuses.push(tx.status);
      const again = await auth.signInWithCredentials({ username, password: newPassword });
      return { statuses, sessionToken: tx.sessionToken, again: again.status };
    }, { recoveryToken, newPassword, username: user.login });
    expect(result.statuses).toEqual(['PASSWORD_RESET', 'SUCCESS']);
    expect(result.sessionToken.length).toBeGreaterThan(30);
    expect(result.again).toBe('SUCCESS');
  });

  test('an unknown username gets the same challenge', async ({ page }) => {
    await page.goto(`${HOST}/okta-auth-js.html?baseUrl=${encodeURIComponent(PORTCULLIS)}`);
    await page.waitForFunction(() => !!(window as any).authClient);
    const status = await page.evaluate(async () => {
      const tx = await (window as any).authClient.forgotPassword({ username: 'nobody-here@example.com', factorType: 'EMAIL' });
      return tx.status;
    });
    expect(status).toBe('RECOVERY_CHALLENGE');
  });
});

import { test, expect } from '@playwright/test';
import { createUser } from './fixtures/users';
import { SignInPage } from './fixtures/pages';

test.use({ javaScriptEnabled: false });

test.describe('hosted sign-in page without JavaScript', () => {
  test('the plain form signs in, shows the user and signs out', async ({ page }) => {
    const user = await createUser('nojs');
    const signIn = new SignInPage(page);
    await signIn.goto();
    await expect(page.locator('form[data-hydrated]')).toHaveCount(0);
    await signIn.signIn(user.login, user.password);
    await expect(page).toHaveURL(/\/login$/);
    await expect(signIn.signedInAs()).toContainText(user.login);
    await signIn.signOut();
    await expect(page.getByRole('heading', { name: 'You are signed out' })).toBeVisible();
    await expect(page).toHaveURL(/\/signin\/signed-out$/);
  });

  test('a wrong password re-renders the form with the error and the username', async ({ page }) => {
    const user = await createUser('nojs-bad');
    const signIn = new SignInPage(page);
    await signIn.goto();
    await signIn.signIn(user.login, 'Wrong-Password-3');
    await expect(signIn.error()).toContainText('Unable to sign in');
    await expect(page.getByLabel('Username', { exact: true })).toHaveValue(user.login);
    await signIn.signIn(user.login, user.password);
    await expect(signIn.signedInAs()).toContainText(user.login);
  });
});

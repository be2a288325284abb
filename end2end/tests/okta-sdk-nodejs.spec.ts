import { test, expect } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { PORTCULLIS, ADMIN_TOKEN, NODE_A, NODES_DATABASE, NODES_MASTER_KEY } from './fixtures/env';

/** Okta's Node management SDK, unmodified, as an app or script that manages an org uses it. */
async function sdk(orgUrl: string, token: string) {
  const okta = await import('@okta/okta-sdk-nodejs');
  // Only the https check is lifted: the end-to-end servers listen on plain http.
  return new okta.Client({ orgUrl, token, testing: { disableHttpsCheck: true } });
}

/** Every item of an SDK collection, following its `Link: rel="next"` pages. */
async function all<T>(collection: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of collection) out.push(item);
  return out;
}

/** What an SDK call that failed said: HTTP status and Okta's error code. */
async function failure(call: Promise<unknown>): Promise<{ status: number; errorCode: string }> {
  try {
    await call;
  } catch (e) {
    const err = e as { status: number; errorCode: string };
    return { status: err.status, errorCode: err.errorCode };
  }
  throw new Error('the call was expected to fail');
}

const run = `${Date.now()}${Math.floor(Math.random() * 1000)}`;

test.describe('@okta/okta-sdk-nodejs (unmodified) against Portcullis', () => {
  test('users with standard attributes, search, pages and lifecycle', async () => {
    const client = await sdk(PORTCULLIS, ADMIN_TOKEN);
    const made = [];
    for (const [n, department] of [[1, 'Engineering'], [2, 'Sales'], [3, 'engineering']] as const) {
      const login = `sdk-${run}-${n}@example.com`;
      made.push(await client.userApi.createUser({
        body: {
          profile: {
            login, email: login, firstName: 'Sdk', lastName: `Person${n}`,
            department, title: 'Engineer', mobilePhone: '+1 555 0100', employeeNumber: `${run}${n}`,
            city: 'Oslo', countryCode: 'NO', preferredLanguage: 'nb',
          },
          credentials: { password: { value: 'Sturdy-Gate-Passw0rd-9' } },
        },
        activate: true,
      }));
    }
    const read = await client.userApi.getUser({ userId: made[0].id! });
    expect(read.profile!.department).toBe('Engineering');
    expect(read.profile!.mobilePhone).toBe('+1 555 0100');
    expect(read.status).toBe('ACTIVE');

    // An attribute the profile does not define is refused, not dropped.
    const refused = await failure(client.userApi.createUser({
      body: { profile: { login: `sdk-${run}-x@example.com`, email: `sdk-${run}-x@example.com`, firstName: 'X', lastName: 'Y', shoeSize: '44' } as never },
    }));
    expect(refused).toEqual({ status: 400, errorCode: 'E0000001' });

    // One per page: the SDK follows the Link headers to the end.
    const engineers = await all(await client.userApi.listUsers({
      search: `profile.department eq "ENGINEERING" and profile.employeeNumber sw "${run}"`,
      limit: 1,
    }));
    expect(engineers.map((u) => u.id).sort()).toEqual([made[0].id, made[2].id].sort());
    const sorted = await all(await client.userApi.listUsers({
      search: `profile.employeeNumber sw "${run}"`, sortBy: 'profile.lastName', sortOrder: 'desc', limit: 2,
    }));
    expect(sorted.map((u) => u.profile!.lastName)).toEqual(['Person3', 'Person2', 'Person1']);
    const bad = await failure(client.userApi.listUsers({ search: 'profile.department eq' }).then(all));
    expect(bad).toEqual({ status: 400, errorCode: 'E0000031' });

    const updated = await client.userApi.updateUser({ userId: made[1].id!, user: { profile: { department: 'Engineering' } } });
    expect(updated.profile!.department).toBe('Engineering');
    await client.userApi.suspendUser({ userId: made[1].id! });
    const suspended = await all(await client.userApi.listUsers({ filter: `status eq "SUSPENDED" and profile.login eq "${made[1].profile!.login}"` }));
    expect(suspended.map((u) => u.id)).toEqual([made[1].id]);
    await client.userApi.unsuspendUser({ userId: made[1].id! });
    await client.userApi.deactivateUser({ userId: made[1].id! });
    await client.userApi.deleteUser({ userId: made[1].id! });
    expect((await failure(client.userApi.getUser({ userId: made[1].id! }))).status).toBe(404);
    await client.userApi.revokeUserSessions({ userId: made[0].id!, oauthTokens: true });
  });

  test('groups, apps replaced after creation, and trusted origins', async () => {
    const client = await sdk(PORTCULLIS, ADMIN_TOKEN);
    const login = `sdk-${run}-g@example.com`;
    const user = await client.userApi.createUser({ body: { profile: { login, email: login, firstName: 'G', lastName: 'M' } } });
    const group = await client.groupApi.createGroup({ group: { profile: { name: `sdk group ${run}` } } });
    await client.groupApi.assignUserToGroup({ groupId: group.id!, userId: user.id! });
    expect((await all(await client.groupApi.listGroupUsers({ groupId: group.id! }))).map((u) => u.id)).toEqual([user.id]);
    expect((await all(await client.groupApi.listGroups({ q: `sdk group ${run}` }))).map((g) => g.id)).toEqual([group.id]);

    const app = await client.applicationApi.createApplication({
      application: {
        name: 'oidc_client', label: `sdk app ${run}`, signOnMode: 'OPENID_CONNECT',
        credentials: { oauthClient: { token_endpoint_auth_method: 'client_secret_basic' } },
        settings: { oauthClient: {
          redirect_uris: ['http://localhost:9/cb'], response_types: ['code'],
          grant_types: ['authorization_code'], application_type: 'web',
        } },
      } as never,
    }) as any;
    const fetched = await client.applicationApi.getApplication({ appId: app.id }) as any;
    expect(fetched.settings.oauthClient.redirect_uris).toEqual(['http://localhost:9/cb']);
    expect(fetched.credentials.oauthClient.client_id).toBe(app.id);
    fetched.settings.oauthClient.redirect_uris = ['http://localhost:9/cb', 'http://localhost:9/other'];
    await client.applicationApi.replaceApplication({ appId: app.id, application: fetched });
    const replaced = await client.applicationApi.getApplication({ appId: app.id }) as any;
    expect(replaced.settings.oauthClient.redirect_uris).toEqual(['http://localhost:9/cb', 'http://localhost:9/other']);

    const origin = await client.trustedOriginApi.createTrustedOrigin({
      trustedOrigin: { name: `sdk ${run}`, origin: `https://sdk-${run}.example`, scopes: [{ type: 'CORS' }] },
    });
    const renamed = await client.trustedOriginApi.replaceTrustedOrigin({
      trustedOriginId: origin.id!,
      trustedOrigin: { name: `sdk ${run} renamed`, origin: `https://sdk-${run}.example`, scopes: [{ type: 'CORS' }, { type: 'REDIRECT' }] },
    });
    expect(renamed.name).toBe(`sdk ${run} renamed`);
    expect((await client.trustedOriginApi.deactivateTrustedOrigin({ trustedOriginId: origin.id! })).status).toBe('INACTIVE');
    expect((await client.trustedOriginApi.activateTrustedOrigin({ trustedOriginId: origin.id! })).status).toBe('ACTIVE');
    await client.trustedOriginApi.deleteTrustedOrigin({ trustedOriginId: origin.id! });
  });

  test('admin roles are given, read and taken back', async () => {
    const client = await sdk(PORTCULLIS, ADMIN_TOKEN);
    const login = `sdk-${run}-r@example.com`;
    const user = await client.userApi.createUser({ body: { profile: { login, email: login, firstName: 'R', lastName: 'A' } } });
    const role = await client.roleAssignmentApi.assignRoleToUser({ userId: user.id!, assignRoleRequest: { type: 'READ_ONLY_ADMIN' } }) as any;
    expect(role.type).toBe('READ_ONLY_ADMIN');
    const again = await failure(client.roleAssignmentApi.assignRoleToUser({ userId: user.id!, assignRoleRequest: { type: 'READ_ONLY_ADMIN' } }));
    expect(again).toEqual({ status: 409, errorCode: 'E0000090' });
    expect((await all(await client.roleAssignmentApi.listAssignedRolesForUser({ userId: user.id! }) as any)).map((r: any) => r.type)).toEqual(['READ_ONLY_ADMIN']);
    expect(((await client.roleAssignmentApi.getUserAssignedRole({ userId: user.id!, roleId: role.id })) as any).id).toBe(role.id);
    await client.roleAssignmentApi.unassignRoleFromUser({ userId: user.id!, roleId: role.id });
    expect(await all(await client.roleAssignmentApi.listAssignedRolesForUser({ userId: user.id! }) as any)).toEqual([]);
  });

  test('a custom attribute is declared through the schema API, then kept and searched', async () => {
    const client = await sdk(PORTCULLIS, ADMIN_TOKEN);
    const name = `badge${run}`;
    const schema = await client.schemaApi.updateUserProfile({
      schemaId: 'default',
      userSchema: { definitions: { custom: { id: '#custom', type: 'object', properties: {
        [name]: { title: 'Badge', type: 'string', maxLength: 8 },
      } } } } as never,
    }) as any;
    expect(schema.definitions.custom.properties[name].maxLength).toBe(8);
    const login = `sdk-${run}-b@example.com`;
    const user = await client.userApi.createUser({
      body: { profile: { login, email: login, firstName: 'B', lastName: 'A', [name]: 'B-1' } as never },
    });
    expect((user.profile as any)[name]).toBe('B-1');
    const tooLong = await failure(client.userApi.createUser({
      body: { profile: { login: `x${login}`, email: `x${login}`, firstName: 'B', lastName: 'A', [name]: '123456789' } as never },
    }));
    expect(tooLong).toEqual({ status: 400, errorCode: 'E0000001' });
    const found = await all(await client.userApi.listUsers({ search: `profile.${name} eq "b-1"` }));
    expect(found.map((u) => u.id)).toEqual([user.id]);
  });

  test('integer, boolean and array attributes keep their type, and search and sort by it', async () => {
    const client = await sdk(PORTCULLIS, ADMIN_TOKEN);
    const [level, remote, langs] = [`level${run}`, `remote${run}`, `langs${run}`];
    const schema = await client.schemaApi.updateUserProfile({
      schemaId: 'default',
      userSchema: { definitions: { custom: { id: '#custom', type: 'object', properties: {
        [level]: { title: 'Level', type: 'integer', minimum: 1, maximum: 20 },
        [remote]: { title: 'Remote', type: 'boolean' },
        [langs]: { title: 'Languages', type: 'array', items: { type: 'string' } },
      } } } } as never,
    }) as any;
    expect(schema.definitions.custom.properties[level].type).toBe('integer');
    expect(schema.definitions.custom.properties[langs].items.type).toBe('string');
    const made = [];
    for (const [n, lvl, rem, ls] of [[1, 9, true, ['fr']], [2, 10, false, ['en', 'fr']], [3, 2, true, ['de']]] as const) {
      const login = `sdk-${run}-t${n}@example.com`;
      made.push(await client.userApi.createUser({
        body: { profile: { login, email: login, firstName: 'T', lastName: `Typed${n}`, [level]: lvl, [remote]: rem, [langs]: [...ls] } as never },
      }));
    }
    expect((made[1].profile as any)[level]).toBe(10);
    expect((made[1].profile as any)[remote]).toBe(false);
    expect((made[1].profile as any)[langs]).toEqual(['en', 'fr']);
    const wrong = await failure(client.userApi.createUser({
      body: { profile: { login: `sdk-${run}-tx@example.com`, email: `sdk-${run}-tx@example.com`, firstName: 'T', lastName: 'X', [level]: '9' } as never },
    }));
    expect(wrong).toEqual({ status: 400, errorCode: 'E0000001' });
    // Numbers sort as numbers: 2, 9, 10 (as text, 10 would come first).
    const sorted = await all(await client.userApi.listUsers({ search: `profile.${level} ge 1`, sortBy: `profile.${level}` }));
    expect(sorted.map((u) => (u.profile as any)[level])).toEqual([2, 9, 10]);
    const french = await all(await client.userApi.listUsers({ search: `profile.${langs} eq "fr" and profile.${remote} eq true` }));
    expect(french.map((u) => u.id)).toEqual([made[0].id]);
  });

  test('the System Log is read and filtered as Okta\'s', async () => {
    const client = await sdk(PORTCULLIS, ADMIN_TOKEN);
    const login = `sdk-${run}-l@example.com`;
    const user = await client.userApi.createUser({ body: { profile: { login, email: login, firstName: 'L', lastName: 'G' } } });
    const since = new Date(Date.now() - 60_000).toISOString();
    const events = await all(await client.systemLogApi.listLogEvents({
      since, until: new Date(Date.now() + 1000).toISOString(),
      filter: `eventType eq "user.lifecycle.create" and target.id eq "${user.id}"`,
    }) as any) as any[];
    expect(events).toHaveLength(1);
    expect(events[0].actor.type).toBe('SystemPrincipal');
    expect(events[0].target[0].id).toBe(user.id);
    expect(events[0].outcome.result).toBe('SUCCESS');
  });

  // A token is made with `portcullis token create`, which needs the store: the two nodes'
  // shared database can be opened while they run.
  test('a read-only admin\'s API token reads, cannot write, and is revoked', async () => {
    test.skip(!NODES_DATABASE, 'needs the nodes\' PostgreSQL database');
    const client = await sdk(NODE_A, ADMIN_TOKEN);
    const login = `sdk-${run}-t@example.com`;
    const owner = await client.userApi.createUser({
      body: { profile: { login, email: login, firstName: 'T', lastName: 'O' }, credentials: { password: { value: 'Sturdy-Gate-Passw0rd-9' } } },
    });
    await client.roleAssignmentApi.assignRoleToUser({ userId: owner.id!, assignRoleRequest: { type: 'READ_ONLY_ADMIN' } });
    const bin = process.env.PORTCULLIS_BIN ?? '../target/debug/portcullis';
    const token = execFileSync(bin, ['token', 'create', '--name', `sdk ${run}`, '--user', login], {
      env: {
        ...process.env, PORTCULLIS_DATABASE_URL: NODES_DATABASE, PORTCULLIS_MASTER_KEY: NODES_MASTER_KEY,
        PORTCULLIS_LOG: 'warn', PORTCULLIS_DATA_DIR: '.data/token-cli',
      },
    }).toString().trim();

    const readOnly = await sdk(NODE_A, token);
    expect((await all(await readOnly.userApi.listUsers({ search: `profile.login eq "${login}"` }))).map((u) => u.id)).toEqual([owner.id]);
    const write = await failure(readOnly.userApi.createUser({ body: { profile: { login: `w-${login}`, email: `w-${login}`, firstName: 'W', lastName: 'X' } } }));
    expect(write).toEqual({ status: 403, errorCode: 'E0000006' });

    const listed = (await all(await client.apiTokenApi.listApiTokens() as any)).find((t: any) => t.name === `sdk ${run}`) as any;
    expect(listed.userId).toBe(owner.id);
    expect(((await client.apiTokenApi.getApiToken({ apiTokenId: listed.id })) as any).name).toBe(`sdk ${run}`);
    await client.apiTokenApi.revokeApiToken({ apiTokenId: listed.id });
    expect((await failure(readOnly.userApi.listUsers({}).then(all))).status).toBe(401);
  });
});

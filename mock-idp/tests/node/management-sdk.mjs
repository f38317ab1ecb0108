// Okta's management SDK (@okta/okta-sdk-nodejs) against mock-idp, unchanged:
// users, groups and apps as a provisioning test would call them.
// Run by mock-idp/tests/mock_idp/okta_sdks.rs; prints one "ok <check>" line
// per passing check and exits non-zero on the first failure.
import okta from '@okta/okta-sdk-nodejs';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`missing environment variable ${name}`);
  return value;
};
const client = new okta.Client({ orgUrl: env('ORG_URL'), token: env('SSWS_TOKEN') });

const fail = (check, error) => {
  console.log(`FAIL ${check}: ${error && error.stack ? error.stack : error}`);
  process.exit(1);
};
const step = async (check, fn) => {
  try {
    const result = await fn();
    console.log(`ok ${check}`);
    return result;
  } catch (error) {
    fail(check, error);
  }
};
const expect = (condition, message) => {
  if (!condition) throw new Error(message);
};
const collect = async (collection) => {
  const items = [];
  for await (const item of collection) items.push(item);
  return items;
};

const login = 'sdk.user@example.com';
const user = await step('userApi.createUser (activate, password)', async () => {
  const created = await client.userApi.createUser({
    activate: true,
    body: {
      profile: { firstName: 'Sdk', lastName: 'User', email: login, login },
      credentials: { password: { value: 'Sdk-Passw0rd-2026' } },
    },
  });
  expect(created.status === 'ACTIVE', `status ${created.status}`);
  return created;
});
await step('userApi.getUser by login', async () => {
  const found = await client.userApi.getUser({ userId: login });
  expect(found.id === user.id, `id ${found.id}`);
});
await step('userApi.listUsers with search', async () => {
  const users = await collect(await client.userApi.listUsers({ search: `profile.lastName eq "User"` }));
  expect(users.length === 1 && users[0].id === user.id, `found ${users.map((u) => u.id)}`);
});
await step('userApi.listUsers pages through Link', async () => {
  const users = await collect(await client.userApi.listUsers({ limit: 1 }));
  expect(users.length === 2, `found ${users.length}`);
});
await step('userApi.updateUser (partial profile)', async () => {
  const updated = await client.userApi.updateUser({ userId: user.id, user: { profile: { nickName: 'sdk' } } });
  expect(updated.profile.nickName === 'sdk' && updated.profile.firstName === 'Sdk', 'profile merged');
});
await step('userApi.suspendUser and unsuspendUser', async () => {
  await client.userApi.suspendUser({ userId: user.id });
  expect((await client.userApi.getUser({ userId: user.id })).status === 'SUSPENDED', 'suspended');
  await client.userApi.unsuspendUser({ userId: user.id });
});
await step('userApi.changePassword', async () => {
  await client.userApi.changePassword({
    userId: user.id,
    changePasswordRequest: { oldPassword: { value: 'Sdk-Passw0rd-2026' }, newPassword: { value: 'Sdk-Passw0rd-2027' } },
  });
});
const group = await step('groupApi.createGroup and assignUserToGroup', async () => {
  const created = await client.groupApi.createGroup({ group: { profile: { name: 'Sdk group' } } });
  await client.groupApi.assignUserToGroup({ groupId: created.id, userId: user.id });
  const members = await collect(await client.groupApi.listGroupUsers({ groupId: created.id }));
  expect(members.length === 1 && members[0].id === user.id, 'member listed');
  return created;
});
await step('userApi.listUserGroups', async () => {
  const groups = await collect(await client.userApi.listUserGroups({ userId: user.id }));
  expect(groups.some((g) => g.id === group.id), 'group listed');
});
await step('groupApi.listGroups with q', async () => {
  const groups = await collect(await client.groupApi.listGroups({ q: 'Sdk' }));
  expect(groups.length === 1 && groups[0].profile.name === 'Sdk group', 'one group');
});
const app = await step('applicationApi.createApplication (OIDC)', async () => {
  const created = await client.applicationApi.createApplication({
    application: {
      name: 'oidc_client',
      label: 'Sdk app',
      signOnMode: 'OPENID_CONNECT',
      credentials: { oauthClient: { token_endpoint_auth_method: 'client_secret_basic' } },
      settings: {
        oauthClient: {
          redirect_uris: ['http://localhost:8082/callback'],
          response_types: ['code'],
          grant_types: ['authorization_code'],
          application_type: 'web',
        },
      },
    },
  });
  expect(created.id && created.credentials.oauthClient.client_id === created.id, 'client id');
  return created;
});
await step('applicationApi.assignUserToApplication and listApplicationUsers', async () => {
  await client.applicationApi.assignUserToApplication({ appId: app.id, appUser: { id: user.id } });
  const users = await collect(await client.applicationApi.listApplicationUsers({ appId: app.id }));
  expect(users.some((u) => u.id === user.id), 'assigned');
});
await step('applicationApi.listApplications', async () => {
  const apps = await collect(await client.applicationApi.listApplications({}));
  expect(apps.some((a) => a.id === app.id), 'listed');
});
await step('applicationApi.deactivateApplication and deleteApplication', async () => {
  await client.applicationApi.deactivateApplication({ appId: app.id });
  await client.applicationApi.deleteApplication({ appId: app.id });
});
await step('userApi.revokeUserSessions', async () => {
  await client.userApi.revokeUserSessions({ userId: user.id });
});
await step('a wrong token is an OktaApiError E0000011', async () => {
  const wrong = new okta.Client({ orgUrl: env('ORG_URL'), token: 'not-the-token' });
  try {
    await wrong.userApi.getUser({ userId: user.id });
  } catch (error) {
    expect(error.status === 401 && error.errorCode === 'E0000011', `got ${error.status} ${error.errorCode}`);
    return;
  }
  throw new Error('no error');
});
await step('userApi.deactivateUser and deleteUser', async () => {
  await client.userApi.deactivateUser({ userId: user.id });
  await client.userApi.deleteUser({ userId: user.id });
});
console.log('all checks passed');

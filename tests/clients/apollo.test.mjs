// Apollo Client (current major) against the live server: the seed flow with a bearer token, the normalised cache,
// a UserError read from a payload, a top-level error code. Run by tests/clients/test_node_clients.py with
// API_URL, ADMIN_EMAIL and ADMIN_PASSWORD set; node's own test runner.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ApolloClient, ApolloLink, CombinedGraphQLErrors, HttpLink, InMemoryCache } from '@apollo/client';
import { SetContextLink } from '@apollo/client/link/context';
import { Kind, parse } from 'graphql';

const url = process.env.API_URL;
const operations = parse(readFileSync(new URL('./src/operations.graphql', import.meta.url), 'utf8'));
const doc = (name) => ({
  kind: Kind.DOCUMENT,
  definitions: operations.definitions.filter((d) => d.name?.value === name),
});

let token = null;
const client = new ApolloClient({
  link: ApolloLink.from([
    new SetContextLink((prev) => ({
      headers: { ...prev.headers, ...(token ? { authorization: `Bearer ${token}` } : {}) },
    })),
    new HttpLink({ uri: url }),
  ]),
  cache: new InMemoryCache(),
});

test('the seed flow through Apollo Client', async (t) => {
  const login = await client.mutate({
    mutation: doc('Login'),
    variables: { input: { email: process.env.ADMIN_EMAIL, password: process.env.ADMIN_PASSWORD } },
  });
  assert.deepEqual(login.data.login.errors, []);
  token = login.data.login.token;
  assert.equal(login.data.login.user.role, 'ADMIN');

  const suffix = Date.now().toString(36);
  const customer = (
    await client.mutate({
      mutation: doc('CreateCustomer'),
      variables: { input: { firstName: 'Ada', lastName: 'Lovelace', email: `ada-${suffix}@example.com`, phone: '+44 20 7946 0000' } },
    })
  ).data.createCustomer;
  assert.deepEqual(customer.errors, []);
  assert.equal(customer.customer.phone, '+442079460000');

  const operator = (
    await client.mutate({
      mutation: doc('CreateOperator'),
      variables: { input: { firstName: 'Oscar', lastName: 'Op', email: `oscar-${suffix}@example.com`, role: 'OPERATOR' } },
    })
  ).data.createOperator;
  assert.deepEqual(operator.errors, []);

  const created = (
    await client.mutate({
      mutation: doc('CreateRequest'),
      variables: { input: { customerId: customer.customer.id, body: 'My invoice is wrong' } },
    })
  ).data.createRequest;
  assert.deepEqual(created.errors, []);
  assert.equal(created.request.status, 'PENDING');
  const requestId = created.request.id;

  const listed = await client.query({ query: doc('CustomerRequests'), variables: { id: customer.customer.id, first: 10 } });
  assert.equal(listed.data.customer.requests.nodes[0].status, 'PENDING');

  await t.test('the cache normalises by __typename and id', () => {
    const key = client.cache.identify({ __typename: 'Request', id: requestId });
    assert.equal(key, `Request:${requestId}`);
    const stored = client.cache.extract();
    assert.equal(stored[key].status, 'PENDING');
    assert.equal(stored[client.cache.identify({ __typename: 'Customer', id: customer.customer.id })].firstName, 'Ada');
  });

  const assigned = (
    await client.mutate({
      mutation: doc('AssignRequest'),
      variables: { input: { requestId, operatorId: operator.operator.id } },
    })
  ).data.assignRequest;
  assert.deepEqual(assigned.errors, []);
  assert.equal(assigned.request.status, 'IN_PROGRESS'); // assigning a PENDING request starts it

  await t.test('a mutation result updates the cached list without a refetch', () => {
    const cached = client.readQuery({ query: doc('CustomerRequests'), variables: { id: customer.customer.id, first: 10 } });
    assert.equal(cached.customer.requests.nodes[0].status, 'IN_PROGRESS');
    assert.equal(cached.customer.requests.nodes[0].processedBy.email, `oscar-${suffix}@example.com`);
  });

  const completed = (
    await client.mutate({
      mutation: doc('ChangeRequestStatus'),
      variables: { input: { requestId, status: 'COMPLETED', resolutionComment: 'Refunded' } },
    })
  ).data.changeRequestStatus;
  assert.deepEqual(completed.errors, []);
  assert.equal(completed.request.status, 'COMPLETED');

  const final = await client.query({
    query: doc('CustomerRequests'),
    variables: { id: customer.customer.id, first: 10 },
    fetchPolicy: 'network-only',
  });
  assert.equal(final.data.customer.requests.totalCount, 1);
  assert.equal(final.data.customer.openRequestCount, 0);
  assert.deepEqual(
    final.data.customer.requests.nodes.map((r) => [r.body, r.status, r.processedBy.email]),
    [['My invoice is wrong', 'COMPLETED', `oscar-${suffix}@example.com`]],
  );

  await t.test('an expected failure is a UserError in the payload', async () => {
    const again = (
      await client.mutate({
        mutation: doc('ChangeRequestStatus'),
        variables: { input: { requestId, status: 'COMPLETED' } },
      })
    ).data.changeRequestStatus;
    assert.equal(again.request, null);
    assert.equal(again.errors[0].code, 'INVALID_TRANSITION');

    const invalid = (
      await client.mutate({
        mutation: doc('CreateCustomer'),
        variables: { input: { firstName: 'Bad', lastName: 'Email', email: 'not-an-email' } },
      })
    ).data.createCustomer;
    assert.equal(invalid.customer, null);
    assert.equal(invalid.errors[0].code, 'VALIDATION');
    assert.deepEqual(invalid.errors[0].field, ['email']);
  });

  await t.test('without a token the server answers UNAUTHENTICATED', async () => {
    token = null;
    await assert.rejects(
      client.query({ query: doc('CustomerRequests'), variables: { id: customer.customer.id }, fetchPolicy: 'network-only' }),
      (error) => {
        assert.ok(CombinedGraphQLErrors.is(error), String(error));
        assert.equal(error.errors[0].extensions.code, 'UNAUTHENTICATED');
        return true;
      },
    );
  });
});

// A sample typed client: the generated document types give every variable and result field its TypeScript type,
// so a misspelt field or a wrong variable fails `tsc --noEmit`.
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import {
  AssignRequestDocument,
  CreateCustomerDocument,
  CustomerRequestsDocument,
  LoginDocument,
  type CustomerRequestsQuery,
} from '../generated/operations';
import type { Customer, RequestStatus, UserError } from '../generated/schema';

type Result<T> = { data?: T | null; errors?: { message: string; extensions?: { code?: string } }[] };

export async function execute<TData, TVariables>(
  url: string,
  document: TypedDocumentNode<TData, TVariables>,
  variables: TVariables,
  token?: string,
): Promise<Result<TData>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query: print(document), variables }),
  });
  return (await response.json()) as Result<TData>;
}

export function describe(errors: Pick<UserError, 'code' | 'message' | 'field'>[]): string {
  return errors.map((e) => `${e.code}${e.field ? ` at ${e.field.join('.')}` : ''}: ${e.message}`).join('; ');
}

export async function openRequestsOf(url: string, email: string, password: string, customerId: string) {
  const login = await execute(url, LoginDocument, { input: { email, password } });
  const token = login.data?.login.token;
  if (!token) throw new Error(describe(login.data?.login.errors ?? []));
  const created = await execute(url, CreateCustomerDocument, { input: { firstName: 'Ada', lastName: 'Lovelace' } }, token);
  const version: number | undefined = created.data?.createCustomer.customer?.version;
  const result = await execute(url, CustomerRequestsDocument, { id: customerId, first: 10 }, token);
  const customer: CustomerRequestsQuery['customer'] = result.data?.customer ?? null;
  const fullName = (c: Pick<Customer, 'firstName' | 'lastName'>) => `${c.firstName} ${c.lastName}`;
  const open: RequestStatus[] = ['PENDING', 'IN_PROGRESS'];
  const assign = await execute(url, AssignRequestDocument, { input: { requestId: 'r', operatorId: 'o' } }, token);
  return {
    name: created.data?.createCustomer.customer ? fullName(created.data.createCustomer.customer) : null,
    version,
    assigned: assign.data?.assignRequest.request?.status,
    open: (customer?.requests.nodes ?? []).filter((r) => open.includes(r.status)).map((r) => r.body),
  };
}

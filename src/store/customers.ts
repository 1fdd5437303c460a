/** Customers and their address books. @example await createCustomer(q, { id: 'acme', name: 'Acme Ltd' }); */
import type { Chain } from '../core/chain.js';
import type { Queryable } from './db.js';

export interface Customer {
  id: string;
  name: string;
}

export async function createCustomer(q: Queryable, c: Customer): Promise<void> {
  await q.query('INSERT INTO customers (id, name) VALUES ($1, $2)', [c.id, c.name]);
}

export async function getCustomer(q: Queryable, id: string): Promise<Customer | null> {
  const [row] = await q.query<Customer>('SELECT id, name FROM customers WHERE id = $1', [id]);
  return row ?? null;
}

export interface AddressBookEntry {
  customerId: string;
  chain: Chain;
  address: string;
  label: string;
  whitelisted: boolean;
  createdAt: number;
}

export async function addAddress(q: Queryable, e: Omit<AddressBookEntry, 'createdAt'> & { createdAt?: number }): Promise<void> {
  await q.query(
    `INSERT INTO address_book (customer_id, chain, address, label, whitelisted, created_at)
     VALUES ($1, $2, $3, $4, $5, $6)`,
    [e.customerId, e.chain, e.address, e.label, e.whitelisted, new Date(e.createdAt ?? Date.now()).toISOString()],
  );
}

export async function listAddresses(q: Queryable, customerId: string): Promise<AddressBookEntry[]> {
  const rows = await q.query<{ customer_id: string; chain: Chain; address: string; label: string; whitelisted: boolean; created_at: Date | string }>(
    'SELECT customer_id, chain, address, label, whitelisted, created_at FROM address_book WHERE customer_id = $1 ORDER BY created_at, address',
    [customerId],
  );
  return rows.map((r) => ({
    customerId: r.customer_id,
    chain: r.chain,
    address: r.address,
    label: r.label,
    whitelisted: r.whitelisted,
    createdAt: new Date(r.created_at).getTime(),
  }));
}

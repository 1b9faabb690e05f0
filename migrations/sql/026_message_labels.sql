-- What support recognises a message by besides its order number: the
-- customer and the amount, derived when the message is accepted by the
-- flow's keys.customer and keys.amount and shown in the inbox and the
-- message explorer. Labels only: '' when the flow has none. A constant
-- default makes adding them a catalogue change, not a table rewrite.
alter table messages add column customer text not null default '',
                     add column amount text not null default '';

# storefront order → ERP sales order (+ CRM route for VIP orders): the same
# mapping as engine/testdata/flows/storefront-order-to-erp.json, for the jq
# side of the benchmark. jq has no decimals, so money is binary floats
# rounded to cents, and jq 1.6 has no trim, so sub() stands in.
# Run: ERP_COMPANY=1000 jq -c --arg now 2026-03-14T09:30:00Z -f storefront.jq
def plant: {"store-berlin": {"salesOrg": "DE01", "plant": "P100", "distributionChannel": "10"},
            "store-munich": {"salesOrg": "DE01", "plant": "P200", "distributionChannel": "10"},
            "store-zurich": {"salesOrg": "CH01", "plant": "P300", "distributionChannel": "20"}};
def taxcode: {"0.19": "V1", "0.07": "V2", "0.081": "C1", "0.026": "C2"};
def carrier: {"DHL-STANDARD": "01", "DHL-EXPRESS": "02", "PICKUP": "10"};
def paystatus: {"paid": "", "authorized": "A", "pending": "B"};
def trim: sub("^\\s+"; "") | sub("\\s+$"; "");
def cents: . * 100 | round;
def fixed2: cents as $c | ($c / 100 | floor | tostring) + "." + (($c % 100) | if . < 10 then "0" + tostring else tostring end);
def num: tonumber;
def sumamounts: map(.amount // .price | num) | add // 0;
def addbiz($n): (.[0:10] + "T00:00:00Z" | fromdateiso8601) as $t
  | {t: $t, left: $n}
  | until(.left == 0; (.t + 86400) as $nt | ($nt | gmtime | .[6]) as $wd
      | {t: $nt, left: (if $wd == 0 or $wd == 6 then .left else .left - 1 end)})
  | .t | strftime("%Y-%m-%d");
def padleft($w; $p): tostring | if length >= $w then . else ([range(0; $w - length)] | map($p) | join("")) + . end;

. as $o
| [ if ((.line_items // []) | length) > 0 then empty else "has-lines" end,
    if plant[.store_id // ""] then empty else "known-store" end,
    if (.currency | ascii_upcase) as $c | ["EUR", "CHF"] | index($c) then empty else "supported-currency" end,
    if (((.subtotal_price | num) - ((.discount_codes // []) | sumamounts) + ((.shipping_lines // []) | sumamounts)) | cents) == (.total_price | num | cents) then empty else "totals-add-up" end,
    if (.email != null) and (.email | test("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$")) then empty else "valid-email" end
  ] as $failed
| if ($failed | length) > 0 then {error: ("validation failed: " + ($failed | join(", ")))}
  else
    plant[.store_id] as $plant
    | {"erp-sales-order": ({
        orderType: "ZWEB",
        externalReference: (.name | ltrimstr("#")),
        companyCode: $ENV.ERP_COMPANY,
        salesArea: {salesOrg: $plant.salesOrg, distributionChannel: $plant.distributionChannel, division: "00"},
        orderDate: .created_at[0:10],
        requestedDeliveryDate: (.created_at | addbiz(2)),
        currency: (.currency | ascii_upcase),
        paymentBlock: (paystatus[.financial_status // "pending"] // "B"),
        soldTo: ({
          customerNumber: (.customer.id | padleft(10; "0")),
          name: ((.customer.first_name + " " + .customer.last_name) | trim | gsub("\\s+"; " ")),
          email: (.email | ascii_downcase)
        } + (if .customer.phone == null then {} else {phone: (.customer.phone | gsub("[^0-9]"; ""))} end)),
        shipTo: ({name: .shipping_address.name}
          + (if .shipping_address.company == null then {} else {company: .shipping_address.company} end)
          + {street: ([.shipping_address.address1, .shipping_address.address2] | map(select(. != null and . != "")) | join(", ")),
             postalCode: .shipping_address.zip, city: .shipping_address.city,
             country: (.shipping_address.country_code | ascii_upcase)}),
        items: [.line_items | to_entries[] | select(.value.quantity > 0) | .key as $i | .value as $l
          | ($l.discount_allocations // [] | sumamounts) as $disc
          | {itemNumber: (($i + 1) * 10), material: ($l.sku | trim | ascii_upcase), description: $l.title[0:40],
             plant: $plant.plant, quantity: $l.quantity, unit: "EA", unitPrice: ($l.price | num | fixed2),
             discount: ($disc | fixed2), lineAmount: (($l.price | num) * $l.quantity - $disc | fixed2),
             taxAmount: ($l.tax_lines // [] | sumamounts | fixed2),
             taxCode: (if ($l.tax_lines // []) | length == 0 then "V0" else (taxcode[$l.tax_lines[0].rate | tostring] // "V0") end)}],
      }
      + (if ((.shipping_lines // []) | length) > 0
         then {shipping: {condition: (carrier[.shipping_lines[0].code] // "01"), amount: (.shipping_lines | sumamounts | fixed2)}}
         else {} end)
      + {discountCodes: [(.discount_codes // [])[] | .code | ascii_upcase],
         totals: {gross: (.total_price | num | fixed2), tax: (.total_tax | num | fixed2),
                  net: ((.total_price | num) - (.total_tax | num) | fixed2)}}
      + (if .note == null then {} else {headerText: (.note | trim | gsub("\\s+"; " ") | .[0:132])} end)
      + {receivedAt: $now})}
    + (if (.tags // "") | split(",") | map(trim) | index("vip")
       then {"crm-vip": {email: (.email | ascii_downcase), activity: "vip-order", orderNumber: .name,
             amountCents: (.total_price | num | cents), currency: (.currency | ascii_upcase),
             followUpDate: ($now | addbiz(3))}}
       else {} end)
  end

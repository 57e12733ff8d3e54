"""The MoU's service levels: the case ledger, its deadlines and the working-day calendar.

The working days of Indonesian government offices in Asia/Jakarta, from the
holidays and *cuti bersama* shipped as data (calendar); the deadline rules of
the agreement (rules); and the case ledger, fed only by records that cross the
gateway, with each case's steps, their deadlines and their status (ledger).

It may import: gateway.node and everything below it, and the ``schemas``
package. Nothing of peers, exchange, HTTP, operations tooling or the command
line: the exchange feeds the ledger, the HTTP layer and the commands read it.
"""

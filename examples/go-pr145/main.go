// PR #145's payment service: ProcessPayment exactly as merged, behind payrace's contract.
//
// MODE=pr145 (default) runs the merged code: SELECT … FOR UPDATE, charge Stripe while holding
// the row lock, no idempotency key, update, commit. MODE=fixed keeps the lock but charges
// with one idempotency key per payment and first looks the charge up by metadata, so a lost
// response or a failed commit followed by a retry records the first charge instead of making
// a second one; and a reconciler records a charge whose answer or commit was lost when no
// retry comes. See README.md.
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	_ "github.com/lib/pq"
)

var (
	db        *sql.DB
	stripeURL = strings.TrimRight(getenv("STRIPE_URL", "http://127.0.0.1:12111"), "/")
	stripeKey = getenv("STRIPE_KEY", "sk_test_payrace")
	fixed     = getenv("MODE", "pr145") == "fixed"
	client    = &http.Client{Timeout: time.Second}
)

// ErrAlreadyProcessed is the merged code's answer to a payment that is not pending.
var ErrAlreadyProcessed = errors.New("payment already processed")

// Payment is one row of the payments table.
type Payment struct {
	ID       string  `json:"id"`
	Amount   int64   `json:"amount"`
	Currency string  `json:"currency"`
	Customer *string `json:"-"`
	Status   string  `json:"status"`
	ChargeID *string `json:"charge_id"`
}

// ---- the merged code -----------------------------------------------------------------------

// ProcessPayment is PR #145 as merged: the row lock is held across the Stripe call.
func ProcessPayment(ctx context.Context, id string) (*Payment, error) {
	if fixed {
		// Outside the transaction, so it survives a rollback: the reconciler knows to look.
		db.ExecContext(ctx, "UPDATE payments SET attempted_at = clock_timestamp() WHERE id = $1", id)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	var p Payment
	row := tx.QueryRowContext(ctx, "SELECT id, amount, currency, customer, status, charge_id FROM payments WHERE id = $1 FOR UPDATE", id)
	if err := row.Scan(&p.ID, &p.Amount, &p.Currency, &p.Customer, &p.Status, &p.ChargeID); err != nil {
		return nil, err
	}
	if p.Status != "pending" {
		return &p, ErrAlreadyProcessed
	}
	ch, err := newCharge(ctx, &p)
	if err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, "UPDATE payments SET status='completed', charge_id=$1 WHERE id=$2", ch, id); err != nil {
		return nil, err
	}
	p.Status, p.ChargeID = "completed", &ch
	return &p, tx.Commit()
}

// ---- Stripe, as a few form posts (no Go SDK is reachable offline) --------------------------

type stripeError struct {
	Status int
	Code   string
}

func (e *stripeError) Error() string { return fmt.Sprintf("stripe %d %s", e.Status, e.Code) }

func stripeCall(ctx context.Context, method, path string, form url.Values, key string) (map[string]any, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, stripeURL+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+stripeKey)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, err
	}
	if resp.StatusCode != 200 {
		code := ""
		if e, ok := out["error"].(map[string]any); ok {
			code, _ = e["code"].(string)
		}
		return nil, &stripeError{resp.StatusCode, code}
	}
	return out, nil
}

// newCharge is `charge.New(&stripe.ChargeParams{…, Metadata: {"payment_id": id}})`. The fixed
// mode first looks for a charge already made for the payment, and sends a key of its own.
func newCharge(ctx context.Context, p *Payment) (string, error) {
	key := ""
	if fixed {
		query := url.Values{"query": {fmt.Sprintf("metadata['payment_id']:'%s' AND status:'succeeded'", p.ID)}}
		found, err := stripeCall(ctx, "GET", "/v1/charges/search?"+query.Encode(), nil, "")
		if err != nil {
			return "", err
		}
		if data, ok := found["data"].([]any); ok && len(data) > 0 {
			if c, ok := data[0].(map[string]any); ok {
				return c["id"].(string), nil
			}
		}
		key = "pr145-fixed-" + p.ID
	}
	source := "tok_visa"
	if p.Customer != nil && *p.Customer == "decline" {
		source = "tok_chargeDeclined"
	}
	form := url.Values{
		"amount": {strconv.FormatInt(p.Amount, 10)}, "currency": {p.Currency},
		"source": {source}, "metadata[payment_id]": {p.ID},
	}
	ch, err := stripeCall(ctx, "POST", "/v1/charges", form, key)
	if err != nil {
		return "", err
	}
	return ch["id"].(string), nil
}

// reconcile (fixed mode) records a charge whose answer or commit was lost: a payment still
// pending some time after an attempt is looked up at Stripe by its metadata.
func reconcile() {
	for range time.Tick(200 * time.Millisecond) {
		rows, err := db.Query(`SELECT id FROM payments WHERE status = 'pending'
			AND attempted_at < clock_timestamp() - interval '1.5 seconds'`)
		if err != nil {
			continue
		}
		var ids []string
		for rows.Next() {
			var id string
			if rows.Scan(&id) == nil {
				ids = append(ids, id)
			}
		}
		rows.Close()
		for _, id := range ids {
			query := url.Values{"query": {fmt.Sprintf("metadata['payment_id']:'%s' AND status:'succeeded'", id)}}
			found, err := stripeCall(context.Background(), "GET", "/v1/charges/search?"+query.Encode(), nil, "")
			if err != nil {
				continue
			}
			data, _ := found["data"].([]any)
			if len(data) == 0 {
				db.Exec("UPDATE payments SET attempted_at = NULL WHERE id = $1 AND status = 'pending'", id)
				continue
			}
			if c, ok := data[0].(map[string]any); ok {
				db.Exec("UPDATE payments SET status = 'completed', charge_id = $1 WHERE id = $2 AND status = 'pending'", c["id"], id)
			}
		}
	}
}

// ---- HTTP: payrace's three endpoints ------------------------------------------------------

func reply(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}

func fail(w http.ResponseWriter, status int, code string) {
	reply(w, status, map[string]any{"error": map[string]any{"code": code}})
}

func getPayment(ctx context.Context, id string) (*Payment, error) {
	var p Payment
	err := db.QueryRowContext(ctx, "SELECT id, amount, currency, customer, status, charge_id FROM payments WHERE id = $1", id).
		Scan(&p.ID, &p.Amount, &p.Currency, &p.Customer, &p.Status, &p.ChargeID)
	return &p, err
}

func payments(w http.ResponseWriter, r *http.Request) {
	rest := strings.Trim(strings.TrimPrefix(r.URL.Path, "/payments"), "/")
	parts := strings.Split(rest, "/")
	switch {
	case r.Method == "POST" && rest == "":
		var in struct {
			Amount   int64   `json:"amount"`
			Currency string  `json:"currency"`
			Customer *string `json:"customer"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Amount <= 0 {
			fail(w, 422, "invalid_amount")
			return
		}
		if in.Currency == "" {
			in.Currency = "usd"
		}
		id := fmt.Sprintf("gp_%d", time.Now().UnixNano())
		_, err := db.ExecContext(r.Context(), "INSERT INTO payments (id, amount, currency, customer) VALUES ($1, $2, $3, $4)", id, in.Amount, in.Currency, in.Customer)
		if err != nil {
			fail(w, 503, "database_unavailable")
			return
		}
		reply(w, 201, Payment{ID: id, Amount: in.Amount, Currency: in.Currency, Status: "pending"})
	case r.Method == "POST" && len(parts) == 2 && parts[1] == "charge":
		p, err := ProcessPayment(r.Context(), parts[0])
		var se *stripeError
		switch {
		case errors.Is(err, sql.ErrNoRows):
			fail(w, 404, "not_found")
		case errors.Is(err, ErrAlreadyProcessed):
			fail(w, 409, "already_processed")
		case errors.As(err, &se) && se.Status == 402:
			fail(w, 402, "card_declined")
		case err != nil:
			fail(w, 502, "provider_or_database_error")
		default:
			reply(w, 200, p)
		}
	case r.Method == "GET" && len(parts) == 1 && rest != "":
		p, err := getPayment(r.Context(), parts[0])
		if errors.Is(err, sql.ErrNoRows) {
			fail(w, 404, "not_found")
		} else if err != nil {
			fail(w, 503, "database_unavailable")
		} else {
			reply(w, 200, p)
		}
	default:
		fail(w, 404, "not_found")
	}
}

func getenv(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}

func main() {
	var err error
	dsn := os.Getenv("DATABASE_URL")
	if !strings.Contains(dsn, "sslmode=") { // lib/pq asks for TLS unless told otherwise
		sep := "?"
		if strings.Contains(dsn, "?") {
			sep = "&"
		}
		dsn += sep + "sslmode=disable"
	}
	db, err = sql.Open("postgres", dsn)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	db.SetMaxOpenConns(20)
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS payments (
		id text PRIMARY KEY, amount bigint NOT NULL CHECK (amount > 0), currency text NOT NULL,
		customer text, status text NOT NULL DEFAULT 'pending', charge_id text,
		attempted_at timestamptz)`); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:"+getenv("PORT", "8000"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("LISTENING http://%s PID %d\n", ln.Addr().String(), os.Getpid())
	if os.Getenv("EXIT_WITH_STDIN") != "" {
		go func() { io.Copy(io.Discard, os.Stdin); os.Exit(0) }()
	}
	if fixed {
		go reconcile()
	}
	http.HandleFunc("/payments", payments)
	http.HandleFunc("/payments/", payments)
	http.Serve(ln, nil)
}

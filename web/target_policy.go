package web

import (
	"fmt"
	"strconv"
	"time"

	"github.com/crossdock/crossdock/mappings/release"
)

// policyField is one field of the delivery policy every target kind
// shares, as the target form shows and reads it. key is the name
// release.TargetConfig.Check and the JSON API give it, and the key of its
// problems.
type policyField struct {
	key, form, id, label string
	show                 func(release.TargetConfig) string
	read                 func(*release.TargetConfig, string) error
}

// policyFields are the delivery policy's fields in the form's order.
var policyFields = []policyField{
	{key: "timeout", form: "timeout", id: "t-timeout", label: "Timeout (s)",
		show: func(c release.TargetConfig) string { return strconv.FormatFloat(c.Timeout.Seconds(), 'f', -1, 64) },
		read: func(c *release.TargetConfig, v string) error {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f <= 0 {
				return fmt.Errorf("“%s” is not a number of seconds", v)
			}
			c.Timeout = time.Duration(f * float64(time.Second))
			return nil
		}},
	{key: "ratePerSecond", form: "rate", id: "t-rate", label: "Rate limit (req/s, 0 = none)",
		show: func(c release.TargetConfig) string { return strconv.FormatFloat(c.RatePerSecond, 'f', -1, 64) },
		read: func(c *release.TargetConfig, v string) error {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 {
				return fmt.Errorf("“%s” is not a number of requests per second", v)
			}
			c.RatePerSecond = f
			return nil
		}},
	wholeField("maxAttempts", "max_attempts", "t-attempts", "Max attempts", func(c *release.TargetConfig) *int { return &c.Retry.MaxAttempts }),
	durationField("baseDelay", "base_delay", "t-base", "First retry after", func(c *release.TargetConfig) *time.Duration { return &c.Retry.BaseDelay }),
	durationField("maxDelay", "max_delay", "t-max", "Longest wait", func(c *release.TargetConfig) *time.Duration { return &c.Retry.MaxDelay }),
	durationField("window", "window", "t-window", "Give up after", func(c *release.TargetConfig) *time.Duration { return &c.Retry.Window }),
	wholeField("failureThreshold", "breaker_failures", "t-bfails", "Open circuit after failures", func(c *release.TargetConfig) *int { return &c.Breaker.FailureThreshold }),
	durationField("openFor", "breaker_open_for", "t-bopen", "Keep circuit open", func(c *release.TargetConfig) *time.Duration { return &c.Breaker.OpenFor }),
}

func wholeField(key, form, id, label string, at func(*release.TargetConfig) *int) policyField {
	return policyField{key: key, form: form, id: id, label: label,
		show: func(c release.TargetConfig) string { return strconv.Itoa(*at(&c)) },
		read: func(c *release.TargetConfig, v string) error {
			n, err := strconv.Atoi(v)
			if err != nil {
				return fmt.Errorf("“%s” is not a whole number", v)
			}
			*at(c) = n
			return nil
		}}
}

func durationField(key, form, id, label string, at func(*release.TargetConfig) *time.Duration) policyField {
	return policyField{key: key, form: form, id: id, label: label,
		show: func(c release.TargetConfig) string { return at(&c).String() },
		read: func(c *release.TargetConfig, v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				return fmt.Errorf("“%s” is not a duration such as 500ms, 30s or 5m", v)
			}
			*at(c) = d
			return nil
		}}
}

// policyLabel is the label of the policy field key, or "" when key is not
// one.
func policyLabel(key string) string {
	for _, f := range policyFields {
		if f.key == key {
			return f.label
		}
	}
	return ""
}

package cmd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/IBM/sarama"
	"github.com/streamctl/streamctl/internal/kafkainfo"
	"github.com/urfave/cli/v2"
)

// regexFlags are consume's flags for choosing topics by name.
func regexFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "regex", Aliases: []string{"r"}, EnvVars: envVars("regex"),
			Usage: "the TOPIC arguments are regular expressions matched against whole topic names (internal topics only when named literally); the matches at start are read"},
	}
}

// checkTopicExpr checks a topic argument: a name, or with -r an expression.
func checkTopicExpr(t string, regex bool) error {
	if !regex {
		return checkTopicName(t)
	}
	if _, err := kafkainfo.Match(t); err != nil {
		return usagef("-r: topic expression %q: %v", t, err)
	}
	return nil
}

// matchTopics lists the topics that exprs match. An expression that
// matches nothing is an error, unless the run follows with no stop
// condition: then it waits for one, saying so.
func matchTopics(ctx context.Context, client sarama.Client, exprs []string, following bool, warn func(string)) ([]string, error) {
	said := false
	for {
		all, err := kafkainfo.Topics(ctx, client, nil, kafkainfo.Options{})
		if err != nil {
			return nil, err
		}
		sel, err := kafkainfo.Select(all, exprs, false)
		var nm *kafkainfo.NoMatchError
		switch {
		case err == nil:
			names := make([]string, len(sel))
			for i, t := range sel {
				names[i] = t.Topic
			}
			return names, nil
		case !errors.As(err, &nm):
			return nil, err
		case !following:
			return nil, withHint(err, "-r matches whole names: 'orders.*', not 'orders'; 'streamctl topics' lists them")
		case !said:
			warn(fmt.Sprintf("no topic matches %q yet; waiting for one", nm.Expr))
			said = true
		}
		t := time.NewTimer(time.Second)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		_ = client.RefreshMetadata()
	}
}

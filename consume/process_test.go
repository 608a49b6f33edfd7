package consume

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/IBM/sarama"
	"github.com/streamctl/streamctl/internal/kafkatest"
)

// holdingProcessor keeps every ticket and, when drained, reports them done
// in reverse order of arrival, all but the offsets in hold.
type holdingProcessor struct {
	mu      sync.Mutex
	tickets []Ticket
	hold    map[int64]bool
}

func (p *holdingProcessor) Process(_ context.Context, m Message) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.tickets = append(p.tickets, m.Ticket)
	return nil
}

func (p *holdingProcessor) Flush(context.Context) error { return nil }

func (p *holdingProcessor) Drain(context.Context, []TopicPartition, bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, t := range slices.Backward(p.tickets) {
		if !p.hold[t.Offset] {
			t.Done(nil)
		}
	}
	p.tickets = nil
	return nil
}

// TestProcessorCommitsTheDonePrefixOnly: records done out of order are
// committed only up to the first one not done.
func TestProcessorCommitsTheDonePrefixOnly(t *testing.T) {
	addr := kafkatest.Broker(t)
	topic := kafkatest.Topic(t)
	kafkatest.CreateTopic(t, addr, topic, 1)
	var msgs []kafkatest.Message
	for range 8 {
		msgs = append(msgs, kafkatest.Message{Value: []byte("v")})
	}
	kafkatest.Produce(t, addr, topic, msgs...)
	group := topic + "-g"
	client := groupClient(t, addr, groupConfig())
	p := &holdingProcessor{hold: map[int64]bool{5: true}}
	st, err := Run(context.Background(), client, Options{Topics: []string{topic}, Group: group, Start: Offset{Kind: Start}, Exit: true, Processor: p}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st.Written != 8 {
		t.Fatalf("handed %d records to the processor, want 8", st.Written)
	}
	om, err := sarama.NewOffsetManagerFromClient(group, client)
	if err != nil {
		t.Fatal(err)
	}
	defer om.Close()
	pom, err := om.ManagePartition(topic, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer pom.Close()
	if got, _ := pom.NextOffset(); got != 5 {
		t.Fatalf("committed %d, want 5: offset 5 was never done", got)
	}
}

package sqlstore

import (
	"bytes"
	"context"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/go-mysql-server/sql/mysql_db"
)

// followUsers keeps mdb's accounts those of the catalog on a read-only node that follows the
// log: each replayed catalog change wakes it, and it reloads the accounts when the writer
// changed them (CREATE USER, GRANT, a password), so that logins and privilege checks here
// agree with the writer's within the replay's lag. It runs until the engine closes.
func (s *Store) followUsers(mdb *mysql_db.MySQLDb, loaded []byte) {
	wake := make(chan struct{}, 1)
	s.replayMu.Lock()
	s.replayed = append(s.replayed, wake)
	s.replayMu.Unlock()
	s.db.Go(func(stop <-chan struct{}) {
		last := loaded
		var prev accountKeys // what the last load put; nil: the engine's first load (LoadData)
		if len(loaded) > 0 {
			if fresh, err := accountsOf(sql.NewEmptyContext(), loaded); err == nil {
				prev = fresh.keys()
			}
		}
		for {
			select {
			case <-stop:
				return
			case <-wake:
			}
			blob, err := s.loadUsers(context.Background())
			if err != nil {
				s.lg.Error("sqlstore: read the accounts the writer changed", "err", err)
				continue
			}
			if bytes.Equal(blob, last) {
				continue
			}
			keys, err := replaceUsers(sql.NewEmptyContext(), mdb, blob, prev)
			if err != nil {
				s.lg.Error("sqlstore: load the accounts the writer changed", "err", err)
				continue
			}
			last, prev = blob, keys
		}
	})
}

// wakeReplayed tells the account followers that the catalog changed.
func (s *Store) wakeReplayed() {
	s.replayMu.Lock()
	defer s.replayMu.Unlock()
	for _, w := range s.replayed {
		select {
		case w <- struct{}{}:
		default:
		}
	}
}

// accounts are the users and role edges of a stored accounts blob.
type accounts struct {
	users []*mysql_db.User
	edges []*mysql_db.RoleEdge
}

// accountKeys name the users and role edges of an accounts blob.
type accountKeys struct {
	users map[mysql_db.UserPrimaryKey]bool
	edges map[mysql_db.RoleEdgesPrimaryKey]bool
}

func accountsOf(ctx *sql.Context, blob []byte) (accounts, error) {
	fresh := mysql_db.CreateEmptyMySQLDb()
	if err := fresh.LoadData(ctx, blob); err != nil {
		return accounts{}, err
	}
	var a accounts
	rd := fresh.Reader()
	rd.VisitUsers(func(u *mysql_db.User) { a.users = append(a.users, u) })
	rd.VisitRoleEdges(func(e *mysql_db.RoleEdge) { a.edges = append(a.edges, e) })
	rd.Close()
	return a, nil
}

func (a accounts) keys() accountKeys {
	k := accountKeys{users: map[mysql_db.UserPrimaryKey]bool{}, edges: map[mysql_db.RoleEdgesPrimaryKey]bool{}}
	for _, u := range a.users {
		k.users[userKey(u)] = true
	}
	for _, e := range a.edges {
		k.edges[edgeKey(e)] = true
	}
	return k
}

// replaceUsers brings mdb's users and role edges to those stored in blob: the ones blob has
// are put, and those the previous load put (prev) that blob no longer has are removed.
// Accounts the node made itself in memory only (AddRemoteRoot) stay. It returns blob's keys.
func replaceUsers(ctx *sql.Context, mdb *mysql_db.MySQLDb, blob []byte, prev accountKeys) (accountKeys, error) {
	a, err := accountsOf(ctx, blob)
	if err != nil {
		return accountKeys{}, err
	}
	keys := a.keys()
	ed := mdb.Editor()
	defer ed.Close()
	for _, u := range a.users {
		// PutUser replaces only an equal entry: a changed one must go first.
		ed.RemoveUser(userKey(u))
		ed.PutUser(u)
	}
	for k := range prev.users {
		if !keys.users[k] {
			ed.RemoveUser(k)
		}
	}
	for _, e := range a.edges {
		ed.RemoveRoleEdge(edgeKey(e))
		ed.PutRoleEdge(e)
	}
	for k := range prev.edges {
		if !keys.edges[k] {
			ed.RemoveRoleEdge(k)
		}
	}
	mdb.SetEnabled(true)
	return keys, nil
}

func userKey(u *mysql_db.User) mysql_db.UserPrimaryKey {
	return mysql_db.UserPrimaryKey{Host: u.Host, User: u.User}
}

func edgeKey(e *mysql_db.RoleEdge) mysql_db.RoleEdgesPrimaryKey {
	return mysql_db.RoleEdgesPrimaryKey{FromHost: e.FromHost, FromUser: e.FromUser, ToHost: e.ToHost, ToUser: e.ToUser}
}

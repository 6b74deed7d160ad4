package storage_test

import (
	"github.com/ai-model-registry/ai-model-registry/lifecycle"
	"github.com/ai-model-registry/ai-model-registry/registry"
	"github.com/ai-model-registry/ai-model-registry/storage"
)

// A storage.Backend serves both consumers: if either grows a method, this
// stops compiling until Backend (and the shared suite) grow it too.
var (
	_ registry.Backend = storage.Backend(nil)
	_ lifecycle.Store  = storage.Backend(nil)
)
